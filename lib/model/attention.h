#pragma once
// Attention over packed documents. All backends take q: [N, Hq, D], k/v: [N, Hkv, D] (GQA when
// Hkv < Hq) and return [N, Hq, D]; causal within each document, nothing across documents.
#include "model/options.h"
#include "model/packed.h"

namespace pt::model {

// window > 0: sliding-window attention (Mistral): a query sees the `window` most recent keys of its
// document, itself included (transformers: q - kv < sliding_window).
at::Tensor attention(AttentionBackend backend, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const PackedInput& in, double scale, int64_t window = 0);

// The keys visible to L queries that follow p earlier tokens of their sequence: [L, p + L] bool —
// the earlier tokens and the queries' own, causally; only the `window` most recent when window > 0.
// (A document after its prefix, a prefill after a cached prefix, a windowed document: p = 0.)
at::Tensor causal_mask(int64_t L, int64_t p, int64_t window, const at::Device& device);

// The backend `auto` resolves to on this device.
AttentionBackend resolve_backend(AttentionBackend requested, const at::Device& device);

// What attention really ran in this process: "flash on BFloat16: 96 calls, kv-cache sdpa on Float: 8
// calls" (kernel and the dtype it computed in — its output's — so bf16 autocast shows), for the run's
// closing log line. attention() counts its calls; the KV-cache path counts its own.
enum class AttentionKernel { Eager, Sdpa, Flash, KvCacheSdpa };
void count_attention_call(AttentionKernel kernel, at::ScalarType dtype);
std::string attention_calls_summary();

}  // namespace pt::model
