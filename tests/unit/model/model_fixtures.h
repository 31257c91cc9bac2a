#pragma once
#include <string>
#include <vector>

#include "model/causal_lm.h"
#include "model/safetensors.h"

namespace pt::test {

inline std::string model_dir(const std::string& name) {
  return std::string(PT_SOURCE_DIR) + "/tests/assets/models/" + name;
}

inline std::vector<std::string> tiny_models() { return {"llama", "llama_tied", "mistral", "qwen2", "qwen3"}; }

struct Reference {
  std::vector<std::vector<int64_t>> docs;
  std::vector<at::Tensor> logits;  // [L, V] each
};

inline Reference load_reference(const std::string& name) {
  model::SafetensorsFile f(model_dir(name) + "/reference.safetensors");
  Reference r;
  for (int i = 0; f.contains("doc" + std::to_string(i) + "_ids"); ++i) {
    auto ids = f.view("doc" + std::to_string(i) + "_ids").clone();
    r.docs.emplace_back(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel());
    r.logits.push_back(f.view("doc" + std::to_string(i) + "_logits").clone());
  }
  return r;
}

inline std::unique_ptr<model::CausalLM> load_tiny(const std::string& name,
                                                  model::AttentionBackend attn = model::AttentionBackend::Sdpa,
                                                  model::Dtype dtype = model::Dtype::Float32) {
  model::ModelOptions o;
  o.path = model_dir(name);
  o.attention = attn;
  o.dtype = dtype;
  return model::CausalLM::from_pretrained(o, at::kCPU);
}

}  // namespace pt::test
