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

// Reference path: one [N, N] block-diagonal causal mask. O(N^2) memory, any device.
at::Tensor eager(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const PackedInput& in, double scale,
                 int64_t window) {
  const int64_t n = q.size(0), hq = q.size(1), hkv = k.size(1);
  auto cu = in.cu_seqlens.to(q.device()).to(at::kLong);
  auto lengths = cu.slice(0, 1) - cu.slice(0, 0, -1);
  auto doc = at::repeat_interleave(at::arange(lengths.size(0), cu.options()), lengths);  // [N]
  auto idx = at::arange(n, cu.options());
  auto allowed = doc.unsqueeze(1).eq(doc.unsqueeze(0)).logical_and(idx.unsqueeze(0).le(idx.unsqueeze(1)));
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

// One fused SDPA call per document: O(L^2) per document, never across documents.
at::Tensor sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const PackedInput& in, double scale,
                int64_t window) {
  auto bounds = in.boundaries();
  std::vector<at::Tensor> outs;
  outs.reserve(bounds.size());
  const bool gqa = k.size(1) != q.size(1);
  for (size_t d = 0; d + 1 < bounds.size(); ++d) {
    int64_t b = bounds[d], e = bounds[d + 1];
    if (e == b) continue;
    auto qd = q.slice(0, b, e).transpose(0, 1).unsqueeze(0);  // [1, H, L, D]
    auto kd = k.slice(0, b, e).transpose(0, 1).unsqueeze(0);
    auto vd = v.slice(0, b, e).transpose(0, 1).unsqueeze(0);
    at::Tensor o;
    if (window > 0 && e - b > window) {
      auto i = at::arange(e - b, at::TensorOptions().dtype(at::kLong).device(q.device()));
      auto d = i.unsqueeze(1) - i.unsqueeze(0);  // query - key
      o = at::scaled_dot_product_attention(qd, kd, vd, d.ge(0).logical_and(d.lt(window)), 0.0, false, scale, gqa);
    } else {
      o = at::scaled_dot_product_attention(qd, kd, vd, {}, 0.0, /*is_causal=*/true, scale, gqa);
    }
    outs.push_back(o.squeeze(0).transpose(0, 1));  // [L, H, D]
  }
  return at::cat(outs, 0);
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
  auto out = at::_flash_attention_forward(q.to(dt), k.to(dt), v.to(dt), cu, cu, in.max_seqlen, in.max_seqlen, 0.0,
                                          /*is_causal=*/true, /*return_debug_mask=*/false, scale, left, right);
  return std::get<0>(out);
#else
  (void)q, (void)k, (void)v, (void)in, (void)scale, (void)window;
  fail("attention 'flash' needs a CUDA build of posttrain");
#endif
}

}  // namespace

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
