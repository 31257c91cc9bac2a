#pragma once
// What distinguishes one Llama-family architecture from another. Each architecture lives in its
// own arch_<name>.cpp and returns one of these; the decoder (decoder.cpp) is shared.
#include <string>
#include <vector>

#include "model/hf_config.h"

namespace pt::model {

// Where each tensor lives in the HF checkpoint: the one table loading, LoRA naming and export read.
// Per-layer names are relative to `layer` (formatted with the layer index); projections are module
// paths without ".weight"/".bias" (their last component is the LoRA target_modules name).
struct TensorNames {
  std::string embed = "model.embed_tokens.weight", final_norm = "model.norm.weight", lm_head = "lm_head.weight";
  std::string layer = "model.layers.{}.";
  std::string input_norm = "input_layernorm.weight", post_norm = "post_attention_layernorm.weight";
  std::string q_norm = "self_attn.q_norm.weight", k_norm = "self_attn.k_norm.weight";
  std::string q = "self_attn.q_proj", k = "self_attn.k_proj", v = "self_attn.v_proj", o = "self_attn.o_proj";
  std::string gate = "mlp.gate_proj", up = "mlp.up_proj", down = "mlp.down_proj";
  std::string score = "score.weight";  // *ForSequenceClassification head
  // Gemma 3's extra norms on the attention output and the MLP output (empty: the architecture has none).
  std::string attn_out_norm, ffn_out_norm;
  // Mixture-of-experts layers: the router and each expert's projections ("{}" = the expert index).
  std::string router = "mlp.gate.weight", expert = "mlp.experts.{}.";
};

struct ArchSpec {
  std::string hf_name;     // config.json "architectures"[0]
  std::string model_type;  // config.json "model_type" (written for a model created by model.init)
  std::string help;
  bool qkv_bias = false;  // Qwen2: biases on q/k/v projections
  bool qk_norm = false;   // Qwen3: RMSNorm over head_dim on q and k before RoPE
  // Adjust the parsed config for quirks of this architecture (e.g. attention_bias defaults).
  void (*adapt)(HfConfig&) = nullptr;
  TensorNames names{};
};

// Per-layer windows of Qwen2/Qwen3 configs with use_sliding_window (their ArchSpec::adapt).
void adapt_qwen_sliding_layers(HfConfig& c);

// All supported architectures, in registration order (the registry lists them from here). Adding
// one: its arch_<name>.cpp, one line in arch.cpp's list, its parity test. (A list rather than
// self-registration: objects of a static library that nothing references are dropped by the linker.)
const std::vector<const ArchSpec*>& all_architectures();
const ArchSpec& find_architecture(const std::string& hf_name);

}  // namespace pt::model
