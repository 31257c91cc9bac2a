#include "model/kv_cache.h"

#include <limits>

#include "core/error.h"
#include "model/attention.h"

namespace pt::model {

KvCache::KvCache(const HfConfig& cfg, int64_t slots, int64_t max_len, at::ScalarType dtype, at::Device device)
    : slots_(slots), max_len_(max_len) {
  auto opts = at::TensorOptions().dtype(dtype).device(device);
  for (int64_t l = 0; l < cfg.num_hidden_layers; ++l) {
    k_.push_back(at::zeros({slots, cfg.num_key_value_heads, max_len, cfg.head_dim}, opts));
    v_.push_back(at::zeros({slots, cfg.num_key_value_heads, max_len, cfg.head_dim}, opts));
  }
}

void KvCache::fork(int64_t from, const std::vector<int64_t>& to, int64_t len) {
  if (to.empty() || len == 0) return;
  const at::Tensor idx = at::tensor(to, at::TensorOptions().dtype(at::kLong)).to(k_.front().device());
  for (auto* layers : {&k_, &v_})
    for (auto& t : *layers) {
      // [Hkv, len, D] of the source, into the same positions of every target slot.
      const at::Tensor src = t[from].narrow(1, 0, len).unsqueeze(0).expand({static_cast<int64_t>(to.size()), -1, -1, -1});
      t.narrow(2, 0, len).index_copy_(0, idx, src.contiguous());
    }
}

int64_t KvCache::bytes_needed(const HfConfig& cfg, int64_t slots, int64_t max_len, at::ScalarType dtype) {
  return 2 * cfg.num_hidden_layers * slots * max_len * cfg.num_key_value_heads * cfg.head_dim *
         static_cast<int64_t>(c10::elementSize(dtype));
}

void KvStep::prepare(at::Device device) {
  std::vector<int64_t> slot, pos;
  decode = true;
  max_context = 0;
  for (size_t d = 0; d < doc_slot.size(); ++d) {
    PT_CHECK(doc_start[d] + doc_len[d] <= cache->max_len(), "kv cache: sequence in slot {} needs {} positions, the "
             "cache holds {}", doc_slot[d], doc_start[d] + doc_len[d], cache->max_len());
    for (int64_t i = 0; i < doc_len[d]; ++i) {
      slot.push_back(doc_slot[d]);
      pos.push_back(doc_start[d] + i);
    }
    decode = decode && doc_len[d] == 1;
    max_context = std::max(max_context, doc_start[d] + doc_len[d]);
  }
  auto lopts = at::TensorOptions().dtype(at::kLong);
  token_slot = at::tensor(slot, lopts).to(device);
  token_pos = at::tensor(pos, lopts).to(device);
  if (decode) {
    decode_slots = at::tensor(doc_slot, lopts).to(device);
    contiguous_slots = true;
    for (size_t d = 1; d < doc_slot.size(); ++d) contiguous_slots = contiguous_slots && doc_slot[d] == doc_slot[d - 1] + 1;
    std::vector<int64_t> len(doc_slot.size());
    for (size_t d = 0; d < doc_slot.size(); ++d) len[d] = doc_start[d] + 1;
    auto lens = at::tensor(len, lopts).to(device);
    // [B, 1, 1, T]: key j of sequence b is visible iff j < its length.
    decode_mask = at::arange(max_context, lopts.device(device)).unsqueeze(0).lt(lens.unsqueeze(1)).view(
        {static_cast<int64_t>(doc_slot.size()), 1, 1, max_context});
  }
}

namespace {
at::Tensor cached_sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, KvStep& step, int64_t layer,
                       double scale, int64_t window) {
  at::Tensor& ck = step.cache->k(layer);
  at::Tensor& cv = step.cache->v(layer);
  using at::indexing::Slice;
  ck.index_put_({step.token_slot, Slice(), step.token_pos}, k.to(ck.scalar_type()));
  cv.index_put_({step.token_slot, Slice(), step.token_pos}, v.to(cv.scalar_type()));
  const bool gqa = k.size(1) != q.size(1);
  if (step.decode) {
    // One token per sequence: a single batched call over the longest context, shorter ones masked.
    const int64_t b = static_cast<int64_t>(step.doc_slot.size()), T = step.max_context;
    // Consecutive slots (the usual case) are read in place; otherwise gathered.
    auto kb = step.contiguous_slots ? ck.narrow(0, step.doc_slot[0], b) : ck.index_select(0, step.decode_slots);
    auto vb = step.contiguous_slots ? cv.narrow(0, step.doc_slot[0], b) : cv.index_select(0, step.decode_slots);
    kb = kb.narrow(2, 0, T);  // [B, Hkv, T, D]
    vb = vb.narrow(2, 0, T);
    auto qb = q.view({b, 1, q.size(1), q.size(2)}).transpose(1, 2);                   // [B, Hq, 1, D]
    if (window > 0 && !step.window_mask.defined()) {
      // Key j is visible to the new token at position len-1 iff len-1 - j < window (same for every layer).
      std::vector<int64_t> lens;
      for (size_t d = 0; d < step.doc_slot.size(); ++d) lens.push_back(step.doc_start[d] + 1);
      auto len = at::tensor(lens, at::TensorOptions().dtype(at::kLong)).to(q.device()).view({b, 1, 1, 1});
      auto j = at::arange(T, at::TensorOptions().dtype(at::kLong).device(q.device())).view({1, 1, 1, T});
      step.window_mask = step.decode_mask.logical_and((len - 1 - j).lt(window));
    }
    const at::Tensor& mask = window > 0 ? step.window_mask : step.decode_mask;
    auto o = at::scaled_dot_product_attention(qb, kb.to(q.scalar_type()), vb.to(q.scalar_type()), mask, 0.0, false,
                                              scale, gqa);
    return o.transpose(1, 2).reshape({b, q.size(1), q.size(2)});
  }
  // Prefill (possibly after a cached prefix): per sequence, queries at positions start..start+L-1
  // see keys 0..their own position.
  std::vector<at::Tensor> outs;
  int64_t off = 0;
  for (size_t d = 0; d < step.doc_slot.size(); ++d) {
    const int64_t s = step.doc_slot[d], p = step.doc_start[d], L = step.doc_len[d];
    auto qd = q.narrow(0, off, L).transpose(0, 1).unsqueeze(0);                        // [1, Hq, L, D]
    auto kd = ck[s].narrow(1, 0, p + L).unsqueeze(0).to(q.scalar_type());  // [1, Hkv, p+L, D]
    auto vd = cv[s].narrow(1, 0, p + L).unsqueeze(0).to(q.scalar_type());
    at::Tensor o;
    if (p == 0 && (window <= 0 || L <= window)) {
      o = at::scaled_dot_product_attention(qd, kd, vd, {}, 0.0, /*is_causal=*/true, scale, gqa);
    } else {
      o = at::scaled_dot_product_attention(qd, kd, vd, causal_mask(L, p, window, q.device()), 0.0, false, scale, gqa);
    }
    outs.push_back(o.squeeze(0).transpose(0, 1));
    off += L;
  }
  return at::cat(outs, 0);
}
}  // namespace

at::Tensor cached_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, KvStep& step, int64_t layer,
                            double scale, int64_t window) {
  at::Tensor out = cached_sdpa(q, k, v, step, layer, scale, window);
  count_attention_call(AttentionKernel::KvCacheSdpa, out.scalar_type());  // the dtype the kernel computed in
  return out;
}

}  // namespace pt::model
