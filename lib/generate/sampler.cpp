#include "generate/sampler.h"

#include <ATen/CPUGeneratorImpl.h>

#include "core/error.h"

namespace pt::gen {

at::Tensor sampling_probs(const at::Tensor& logits, const SamplingParams& p) {
  PT_CHECK(p.temperature > 0, "sampling_probs: temperature must be > 0 (0 is greedy, handled by sample())");
  at::Tensor probs = at::softmax(logits.to(at::kCPU).to(at::kDouble) / p.temperature, 0);
  const int64_t V = probs.size(0);
  if (p.top_k > 0 && p.top_k < V) {
    at::Tensor kth = std::get<0>(probs.topk(p.top_k)).min();
    probs = probs.masked_fill(probs.lt(kth), 0);
    // Ties at the k-th value would keep more than k tokens; keep the k lowest ids among them.
    if (probs.gt(0).sum().item<int64_t>() > p.top_k) {
      at::Tensor idx = std::get<1>(at::sort(probs, /*stable=*/true, 0, /*descending=*/true)).narrow(0, p.top_k, V - p.top_k);
      probs.index_fill_(0, idx, 0);
    }
    probs = probs / probs.sum();
  }
  if (p.top_p < 1) {
    auto [sorted, idx] = at::sort(probs, /*stable=*/true, 0, /*descending=*/true);
    at::Tensor before = at::cumsum(sorted, 0) - sorted;  // mass of the more likely tokens
    at::Tensor drop = idx.masked_select(before.ge(p.top_p));
    probs = probs.index_fill(0, drop, 0);
    probs = probs / probs.sum();
  }
  if (p.min_p > 0) {
    probs = probs.masked_fill(probs.lt(p.min_p * probs.max()), 0);
    probs = probs / probs.sum();
  }
  return probs;
}

Sampled sample(const at::Tensor& logits, const SamplingParams& p, at::Generator& gen) {
  Sampled out;
  at::Tensor l = logits.to(at::kCPU).to(at::kDouble);
  const bool greedy = p.temperature <= 0;
  at::Tensor logp = at::log_softmax(greedy ? l : l / p.temperature, 0);
  if (greedy) {
    out.token = static_cast<int32_t>(l.argmax().item<int64_t>());
  } else {
    at::Tensor probs = sampling_probs(l, p);
    // Inverse CDF in id order with one uniform draw from the sequence's own generator.
    double u;
    {
      std::lock_guard<std::mutex> lock(gen.mutex());
      u = at::check_generator<at::CPUGeneratorImpl>(gen)->random64() / 18446744073709551616.0;
    }
    at::Tensor cdf = at::cumsum(probs, 0);
    const double total = cdf[-1].item<double>();
    int64_t t = at::searchsorted(cdf, at::scalar_tensor(u * total, cdf.options()), false, true).item<int64_t>();
    const int64_t V = probs.size(0);
    t = std::min(t, V - 1);
    while (t > 0 && probs[t].item<double>() == 0) --t;  // u*total rounding onto a truncated token
    out.token = static_cast<int32_t>(t);
  }
  out.logprob = logp[out.token].item<double>();
  if (p.logprobs_top_k > 0) {
    auto [v, i] = logp.topk(std::min<int64_t>(p.logprobs_top_k, logp.size(0)));
    for (int64_t j = 0; j < v.size(0); ++j)
      out.top.emplace_back(static_cast<int32_t>(i[j].item<int64_t>()), v[j].item<double>());
  }
  return out;
}

}  // namespace pt::gen
