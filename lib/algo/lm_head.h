#pragma once
// One [chunk, vocab] block of LM-head logits, the unit every chunked loss works in.
#include <ATen/ATen.h>

namespace pt::algo {

// fp32 logits of hidden rows [b, b + m) through `weight` ([V_padded, H]), padding columns (>= vocab)
// at -inf. On the CPU (fp32, or bf16 GEMMs under autocast or with bf16 weights): written into a
// per-thread block that the next call reuses, so the result is valid until then (a fresh block of
// this size is mmapped and faulted in page by page by malloc every time: 7% of an SFT step in the
// profile; CUDA's caching allocator reuses blocks already).
// Elsewhere matmul keeps autocast's choice of precision.
at::Tensor head_logits(const at::Tensor& hidden, const at::Tensor& weight, int64_t b, int64_t m, int64_t vocab);

// Whether head_logits computes in place into the reused block (fp32 CPU, autocast off: an out=
// GEMM is never autocast, so under CPU autocast the head takes the bf16 path a GPU takes).
bool head_logits_direct(const at::Tensor& hidden, const at::Tensor& weight);

// The precision the head's GEMMs run in: autocast's when it is on for the tensors' device (the
// logits came out of a bf16 matmul), else the operands' own.
at::ScalarType head_compute_dtype(const at::Tensor& hidden, const at::Tensor& weight);

// The head's two gradient GEMMs from the fp32 logit gradient d [m, rows]: grad_h (when defined,
// [m, H], written) = d weight, and grad_w (when defined, fp32 [rows, H]) += d^T h; weight and grad_w
// are the rows d covers. Computed in head_compute_dtype and added in fp32, as autocast forms a
// Linear's gradients (an in-place addmm_ is never autocast: written as one, the weight gradient ran
// in fp32 under bf16 autocast, a fraction of a GPU's bf16 rate). On the CPU the low-precision d and
// the [rows, H] product go into per-thread blocks reused across calls (fresh ones fault in page by
// page: ~30% of a bf16 SFT step).
void head_backward(const at::Tensor& d, const at::Tensor& weight, const at::Tensor& h, at::Tensor grad_h,
                   at::Tensor grad_w);

// The same logits transposed, [V_padded, m] (one column per token), for the fp32 CPU path only:
// MKL forms weight @ hidden^T about 1.4x faster than hidden @ weight^T at LM-head shapes (K = hidden
// size, N = vocabulary; scripts/bench_sft.sh profile). Padding rows hold whatever the weight's padding rows
// give: column_softmax.h's kernels skip them. Shares head_logits' reused block.
at::Tensor head_logits_t(const at::Tensor& hidden, const at::Tensor& weight, int64_t b, int64_t m);

}  // namespace pt::algo
