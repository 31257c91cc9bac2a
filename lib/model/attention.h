#pragma once
// Attention over packed documents. All backends take q: [N, Hq, D], k/v: [N, Hkv, D] (GQA when
// Hkv < Hq) and return [N, Hq, D]; causal within each document, nothing across documents.
#include "model/options.h"
#include "model/packed.h"

namespace pt::model {

at::Tensor attention(AttentionBackend backend, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const PackedInput& in, double scale);

// The backend `auto` resolves to on this device.
AttentionBackend resolve_backend(AttentionBackend requested, const at::Device& device);

}  // namespace pt::model
