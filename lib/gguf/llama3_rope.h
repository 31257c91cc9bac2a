#pragma once
// Llama 3 RoPE scaling in GGUF. llama.cpp stores no scaling keys for it but one tensor,
// rope_freqs.weight [head_dim / 2]: per dimension, the divisor of the plain RoPE frequency (1 for the
// fast dimensions, `factor` for the slow ones, a smoothed ratio between), as convert_hf_to_gguf
// computes it from the HF config.
#include <ATen/ATen.h>

#include <optional>
#include <string>

#include "model/hf_config.h"

namespace pt::gguf {

// The rope_freqs.weight of a config with rope_scaling llama3: plain / scaled inverse frequencies, as our
// model (and transformers) compute them.
at::Tensor llama3_rope_factors(const model::HfConfig& c);

// The rope_scaling (type llama3) whose factors are `factors` for this RoPE base and head width: factor
// = the largest divisor; the smoothed band's dimensions fix the band's edges (low_freq_factor,
// high_freq_factor, original context; 1, 4 and a power of two where they leave them open). nullopt
// when every factor is 1 (no scaling). Fails, naming `where`, when no Llama 3 scaling gives these
// factors within float32 rounding.
std::optional<model::RopeScaling> fit_llama3_scaling(const at::Tensor& factors, double theta, int64_t head_dim,
                                                     const std::string& where);

}  // namespace pt::gguf
