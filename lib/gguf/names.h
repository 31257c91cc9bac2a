#pragma once
// Tensor names between Hugging Face checkpoints and llama.cpp's GGUF files, one table both ways:
// "model.layers.3.self_attn.q_proj.weight" <-> "blk.3.attn_q.weight".
#include <cstdint>
#include <optional>
#include <string>

#include <ATen/ATen.h>

namespace pt::gguf {

// `arch`: llama.cpp's architecture name; Gemma's sandwich norms have names of their own.
std::string gguf_name(const std::string& hf, const std::string& arch = "");  // "" when there is no llama.cpp name
std::string hf_name(const std::string& gguf, const std::string& arch = "");  // "" when there is no HF name

// Mixture-of-experts weights: HF keeps one matrix per expert ("model.layers.3.mlp.experts.7.up_proj.weight"),
// llama.cpp one stack per layer and projection ("blk.3.ffn_up_exps.weight", [experts, rows, cols]).
struct ExpertSlot {
  std::string stacked;  // the GGUF tensor
  int64_t expert;       // the index in its stack
};
std::optional<ExpertSlot> expert_slot(const std::string& hf);
bool is_expert_stack(const std::string& gguf);  // "blk.N.ffn_{gate,up,down}_exps.weight"
std::string hf_expert_name(const std::string& gguf, int64_t expert);  // "" when not a stack

// HF's rotate-half RoPE pairs dimension i with i + d/2; llama.cpp's Llama pairs 2i with 2i + 1:
// each head's q/k rows are reordered on export (convert_hf_to_gguf's permute) and back on import.
at::Tensor permute_rope_rows(const at::Tensor& w, int64_t heads);
at::Tensor unpermute_rope_rows(const at::Tensor& w, int64_t heads);

}  // namespace pt::gguf
