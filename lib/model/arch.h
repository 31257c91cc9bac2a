#pragma once
// What distinguishes one Llama-family architecture from another. Each architecture lives in its
// own arch_<name>.cpp and returns one of these; the decoder (decoder.cpp) is shared.
#include <string>
#include <vector>

#include "model/hf_config.h"

namespace pt::model {

struct ArchSpec {
  std::string hf_name;   // config.json "architectures"[0]
  std::string help;
  bool qkv_bias = false;  // Qwen2: biases on q/k/v projections
  bool qk_norm = false;   // Qwen3: RMSNorm over head_dim on q and k before RoPE
  // Adjust the parsed config for quirks of this architecture (e.g. attention_bias defaults).
  void (*adapt)(HfConfig&) = nullptr;
};

const ArchSpec& arch_llama();
const ArchSpec& arch_mistral();
const ArchSpec& arch_qwen2();
const ArchSpec& arch_qwen3();

// All supported architectures, in registration order (the registry lists them from here).
const std::vector<const ArchSpec*>& all_architectures();
const ArchSpec& find_architecture(const std::string& hf_name);

}  // namespace pt::model
