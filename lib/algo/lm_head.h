#pragma once
// One [chunk, vocab] block of LM-head logits, the unit every chunked loss works in.
#include <ATen/ATen.h>

namespace pt::algo {

// fp32 logits of hidden rows [b, b + m) through `weight` ([V_padded, H]), padding columns (>= vocab)
// at -inf. fp32 on the CPU: written into a per-thread block that the next call reuses, so the result
// is valid until then (a fresh block of this size is mmapped and faulted in page by page by malloc
// every time: 7% of an SFT step in the profile; CUDA's caching allocator reuses blocks already).
// Elsewhere matmul keeps autocast's choice of precision.
at::Tensor head_logits(const at::Tensor& hidden, const at::Tensor& weight, int64_t b, int64_t m, int64_t vocab);

// Whether head_logits computes in place into the reused block (fp32 CPU).
bool head_logits_direct(const at::Tensor& hidden, const at::Tensor& weight);

// The same logits transposed, [V_padded, m] (one column per token), for the fp32 CPU path only:
// MKL forms weight @ hidden^T about 1.4x faster than hidden @ weight^T at LM-head shapes (K = hidden
// size, N = vocabulary; scripts/bench_sft.sh profile). Padding rows hold whatever the weight's padding rows
// give: column_softmax.h's kernels skip them. Shares head_logits' reused block.
at::Tensor head_logits_t(const at::Tensor& hidden, const at::Tensor& weight, int64_t b, int64_t m);

}  // namespace pt::algo
