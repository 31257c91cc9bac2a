#include "model/arch.h"

#include "core/error.h"

namespace pt::model {

// Defined in arch_<name>.cpp, one per architecture.
const ArchSpec& arch_llama();
const ArchSpec& arch_mistral();
const ArchSpec& arch_qwen2();
const ArchSpec& arch_qwen3();
const ArchSpec& arch_gemma3();
const ArchSpec& arch_qwen3_moe();

const std::vector<const ArchSpec*>& all_architectures() {
  static const std::vector<const ArchSpec*> all{&arch_llama(), &arch_mistral(), &arch_qwen2(), &arch_qwen3(),
                                                       &arch_gemma3(), &arch_qwen3_moe()};
  return all;
}

const ArchSpec& find_architecture(const std::string& hf_name) {
  std::vector<std::string> names;
  for (const auto* a : all_architectures()) {
    if (a->hf_name == hf_name) return *a;
    names.push_back(a->hf_name);
  }
  std::string known;
  for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
  std::string hint = did_you_mean(hf_name, names);
  fail("architecture '{}' is not supported{}; supported: {}", hf_name,
       hint.empty() ? "" : " (did you mean '" + hint + "'?)", known);
}

}  // namespace pt::model
