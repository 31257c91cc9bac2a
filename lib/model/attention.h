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

// The backend `auto` resolves to on this device.
AttentionBackend resolve_backend(AttentionBackend requested, const at::Device& device);

}  // namespace pt::model
