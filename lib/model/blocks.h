#pragma once
// Building blocks shared by the Llama-family decoders.
#include <ATen/ATen.h>

#include "model/hf_config.h"

namespace pt::model {

// HF semantics: normalize in fp32, cast back, then scale (so bf16 rounding matches transformers).
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);

// Gemma's RMSNorm: normalize and scale by (1 + w) in fp32, then cast back.
at::Tensor rms_norm_plus_one(const at::Tensor& x, const at::Tensor& weight, double eps);

// Inverse frequencies [head_dim/2] (fp32) including llama3 / linear / yarn scaling.
at::Tensor rope_inv_freq(const HfConfig& c, const at::Device& device);
// Plain inverse frequencies for base `theta` (no scaling).
at::Tensor rope_inv_freq_plain(double theta, int64_t head_dim, const at::Device& device);

// cos/sin for the given positions: [N, 1, head_dim], in `dtype`.
// attention_scaling: yarn's factor on cos and sin (1 otherwise).
std::pair<at::Tensor, at::Tensor> rope_cos_sin(const at::Tensor& inv_freq, const at::Tensor& position_ids,
                                               at::ScalarType dtype, double attention_scaling = 1.0);

// Dynamic NTK scaling (rope type "dynamic"): inverse frequencies per token [N, head_dim/2], from the
// length of the token's own document (its largest position + 1; a decoding token's position + 1).
// transformers derives one length per forward pass from the whole batch and keeps it while it only
// grows; per document, a packed row gives the same logits as its documents one by one and equals
// transformers on a document alone.
at::Tensor dynamic_rope_inv_freq(const HfConfig& c, const at::Tensor& position_ids, const at::Tensor& cu_seqlens);

// cos/sin from per-token inverse frequencies [N, head_dim/2].
std::pair<at::Tensor, at::Tensor> rope_cos_sin_per_token(const at::Tensor& inv_freq, const at::Tensor& position_ids,
                                                         at::ScalarType dtype);

// x: [N, H, D] rotated by the half-split convention of HF (rotate_half).
at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

}  // namespace pt::model
