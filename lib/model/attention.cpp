#include "model/attention.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <ATen/autocast_mode.h>

#include "core/error.h"
#include "posttrain/build_config.h"

namespace pt::model {

namespace {

// A document's prefix (PackedInput::prefix_doc) as a host list of one entry per document, -1 = none.
std::vector<int32_t> prefixes_of(const PackedInput& in, size_t docs) {
  if (!in.has_prefixes()) return {};
  PT_CHECK(in.prefix_doc.size() == docs, "packed input: {} prefix entries for {} documents", in.prefix_doc.size(), docs);
  return in.prefix_doc;
}

// Reference path: one [N, N] block-diagonal causal mask (plus each document's prefix, in full).
// O(N^2) memory, any device.
at::Tensor eager(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const PackedInput& in, double scale,
                 int64_t window) {
  const int64_t n = q.size(0), hq = q.size(1), hkv = k.size(1);
  auto cu = in.cu_seqlens.to(q.device()).to(at::kLong);
  auto lengths = cu.slice(0, 1) - cu.slice(0, 0, -1);
  auto doc = at::repeat_interleave(at::arange(lengths.size(0), cu.options()), lengths);  // [N]
  auto idx = at::arange(n, cu.options());
  auto allowed = doc.unsqueeze(1).eq(doc.unsqueeze(0)).logical_and(idx.unsqueeze(0).le(idx.unsqueeze(1)));
  const auto prefixes = prefixes_of(in, static_cast<size_t>(lengths.size(0)));
  if (!prefixes.empty()) {
    auto prefix = at::tensor(std::vector<int64_t>(prefixes.begin(), prefixes.end()), cu.options()).index_select(0, doc);
    allowed = allowed.logical_or(prefix.unsqueeze(1).eq(doc.unsqueeze(0)));
    idx = in.position_ids.to(q.device());  // distances for the window: a prefix continues into its documents
  }
  if (window > 0) allowed = allowed.logical_and((idx.unsqueeze(1) - idx.unsqueeze(0)).lt(window));
  at::Tensor kk = k, vv = v;
  if (hkv != hq) {
    kk = k.repeat_interleave(hq / hkv, 1);
    vv = v.repeat_interleave(hq / hkv, 1);
  }
  auto qh = q.transpose(0, 1), kh = kk.transpose(0, 1), vh = vv.transpose(0, 1);  // [H, N, D]
  auto scores = at::matmul(qh, kh.transpose(1, 2)) * scale;                       // [H, N, N]
  scores = scores.masked_fill(allowed.logical_not().unsqueeze(0), -std::numeric_limits<float>::infinity());
  auto probs = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
  return at::matmul(probs, vh).transpose(0, 1);  // [N, H, D]
}

// One fused SDPA call per document: O(L^2) per document, never across documents. A document with a
// prefix attends to [prefix, itself] with the prefix fully visible (the KV cache's prefill after a
// cached prefix, the same mask).
at::Tensor sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const PackedInput& in, double scale,
                int64_t window) {
  auto bounds = in.boundaries();
  const auto prefixes = prefixes_of(in, bounds.size() - 1);
  std::vector<at::Tensor> outs;
  outs.reserve(bounds.size());
  const bool gqa = k.size(1) != q.size(1);
  auto heads_first = [](const at::Tensor& t) { return t.transpose(0, 1).unsqueeze(0); };  // [1, H, L, D]
  for (size_t d = 0; d + 1 < bounds.size(); ++d) {
    int64_t b = bounds[d], e = bounds[d + 1];
    if (e == b) continue;
    auto qd = heads_first(q.slice(0, b, e));
    auto kd = heads_first(k.slice(0, b, e));
    auto vd = heads_first(v.slice(0, b, e));
    const int32_t pre = prefixes.empty() ? -1 : prefixes[d];
    at::Tensor o;
    int64_t p = 0;  // tokens of the prefix before the document's own
    if (pre >= 0) {
      const int64_t pb = bounds[static_cast<size_t>(pre)];
      p = bounds[static_cast<size_t>(pre) + 1] - pb;
      kd = at::cat({heads_first(k.slice(0, pb, pb + p)), kd}, 2);
      vd = at::cat({heads_first(v.slice(0, pb, pb + p)), vd}, 2);
    }
    if (p > 0 || (window > 0 && e - b > window)) {
      o = at::scaled_dot_product_attention(qd, kd, vd, causal_mask(e - b, p, window, q.device()), 0.0, false, scale,
                                           gqa);
    } else {
      o = at::scaled_dot_product_attention(qd, kd, vd, {}, 0.0, /*is_causal=*/true, scale, gqa);
    }
    outs.push_back(o.squeeze(0).transpose(0, 1));  // [L, H, D]
  }
  return at::cat(outs, 0);
}

// Flash's keys per document with prefixes: [prefix, itself] gathered (their cu_seqlens and longest);
// bottom-right causal alignment then shows a query the whole prefix and its own earlier tokens.
struct PrefixedKeys {
  at::Tensor index, cu;
  int64_t max_len = 0;
};
[[maybe_unused]] PrefixedKeys prefixed_keys(const std::vector<int64_t>& bounds, const std::vector<int32_t>& prefixes,
                                            at::Device dev) {
  std::vector<int64_t> idx;
  std::vector<int32_t> cu{0};
  PrefixedKeys out;
  for (size_t d = 0; d + 1 < bounds.size(); ++d) {
    if (prefixes[d] >= 0)
      for (int64_t t = bounds[static_cast<size_t>(prefixes[d])]; t < bounds[static_cast<size_t>(prefixes[d]) + 1]; ++t)
        idx.push_back(t);
    for (int64_t t = bounds[d]; t < bounds[d + 1]; ++t) idx.push_back(t);
    cu.push_back(static_cast<int32_t>(idx.size()));
    out.max_len = std::max<int64_t>(out.max_len, cu.back() - cu[cu.size() - 2]);
  }
  out.index = at::tensor(idx, at::TensorOptions().dtype(at::kLong)).to(dev);
  out.cu = at::tensor(cu, at::TensorOptions().dtype(at::kInt)).to(dev);
  return out;
}

at::Tensor flash(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const PackedInput& in, double scale,
                 int64_t window) {
#if PT_HAVE_CUDA
  if (!q.is_cuda()) fail("attention 'flash' needs CUDA tensors (the model is on {})", q.device().str());
  // The kernel takes fp16/bf16 only and is no autocast op. Under autocast (fp32 weights, trainer.precision
  // bf16) the projections run in bf16 but RoPE's fp32 tables (as transformers') promote q and k back to
  // fp32: cast to the autocast dtype, as transformers' flash-attention integration does.
  at::ScalarType dt = q.scalar_type();
  if (dt == at::kFloat) {
    if (!at::autocast::is_autocast_enabled(at::kCUDA))
      fail("attention 'flash' needs bf16 or fp16 inputs, and the model runs in float32 without autocast: set "
           "trainer.precision: bf16 or model.dtype: bfloat16, or use attention sdpa");
    dt = at::autocast::get_autocast_dtype(at::kCUDA);
  }
  // Varlen flash attention: documents delimited by cu_seqlens, GQA handled by the kernel.
  auto cu = in.cu_seqlens.to(q.device()).to(at::kInt);
  std::optional<int64_t> left, right;
  if (window > 0) left = window - 1, right = 0;  // flash counts the keys left of the query
  at::Tensor kk = k, vv = v, cu_k = cu;
  int64_t max_k = in.max_seqlen;
  if (in.has_prefixes()) {
    const auto bounds = in.boundaries();
    const PrefixedKeys pk = prefixed_keys(bounds, prefixes_of(in, bounds.size() - 1), q.device());
    kk = k.index_select(0, pk.index), vv = v.index_select(0, pk.index), cu_k = pk.cu, max_k = pk.max_len;
  }
  auto out = at::_flash_attention_forward(q.to(dt), kk.to(dt), vv.to(dt), cu, cu_k, in.max_seqlen, max_k, 0.0,
                                          /*is_causal=*/true, /*return_debug_mask=*/false, scale, left, right);
  return std::get<0>(out);
#else
  (void)q, (void)k, (void)v, (void)in, (void)scale, (void)window;
  fail("attention 'flash' needs a CUDA build of posttrain");
#endif
}

}  // namespace

at::Tensor causal_mask(int64_t L, int64_t p, int64_t window, const at::Device& device) {
  auto opts = at::TensorOptions().dtype(at::kLong).device(device);
  auto qi = at::arange(L, opts).unsqueeze(1) + p;  // query positions
  auto kj = at::arange(p + L, opts).unsqueeze(0);  // key positions
  at::Tensor visible = kj.le(qi);
  if (window > 0) visible = visible.logical_and((qi - kj).lt(window));
  return visible;
}

AttentionBackend resolve_backend(AttentionBackend requested, const at::Device& device) {
  if (requested != AttentionBackend::Auto) return requested;
  return device.is_cuda() ? AttentionBackend::Flash : AttentionBackend::Sdpa;
}

namespace {
// One lock-free counter per (kernel, dtype): counted on every layer of every forward and decode step.
constexpr int kKernels = 4, kDtypes = static_cast<int>(at::ScalarType::NumOptions);
std::array<std::array<std::atomic<int64_t>, kDtypes>, kKernels> g_calls{};
const char* kKernelNames[kKernels] = {"eager", "sdpa", "flash", "kv-cache sdpa"};
}  // namespace

void count_attention_call(AttentionKernel kernel, at::ScalarType dtype) {
  g_calls[static_cast<int>(kernel)][static_cast<int>(dtype)].fetch_add(1, std::memory_order_relaxed);
}

std::string attention_calls_summary() {
  std::vector<std::string> parts;
  for (int k = 0; k < kKernels; ++k)
    for (int d = 0; d < kDtypes; ++d)
      if (const int64_t n = g_calls[k][d].load(std::memory_order_relaxed))
        parts.push_back(fmt::format("{} on {}: {} calls", kKernelNames[k], c10::toString(static_cast<at::ScalarType>(d)), n));
  std::sort(parts.begin(), parts.end());
  return parts.empty() ? std::string("none") : fmt::format("{}", fmt::join(parts, ", "));
}

at::Tensor attention(AttentionBackend backend, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const PackedInput& in, double scale, int64_t window) {
  const AttentionBackend resolved = resolve_backend(backend, q.device());
  at::Tensor out;
  switch (resolved) {
    case AttentionBackend::Eager: out = eager(q, k, v, in, scale, window); break;
    case AttentionBackend::Sdpa: out = sdpa(q, k, v, in, scale, window); break;
    case AttentionBackend::Flash: out = flash(q, k, v, in, scale, window); break;
    case AttentionBackend::Auto: fail("unreachable attention backend");
  }
  // The output's dtype is what the kernel computed in (SDPA casts its fp32 inputs under autocast itself).
  count_attention_call(resolved == AttentionBackend::Eager  ? AttentionKernel::Eager
                       : resolved == AttentionBackend::Sdpa ? AttentionKernel::Sdpa
                                                            : AttentionKernel::Flash,
                       out.scalar_type());
  return out;
}

}  // namespace pt::model
