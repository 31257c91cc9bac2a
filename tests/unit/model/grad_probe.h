#pragma once
// A probe loss whose gradient reaches every parameter, and the gradients it gives: how the bf16
// autocast checks (CPU here, GPU in unit/gpu) compare a lower-precision step with fp32.
#include <map>
#include <string>

#include "model/causal_lm.h"
#include "model/packed.h"

namespace pt::test {

// A loss over every position and vocabulary entry, so every gradient is non-trivial.
inline at::Tensor probe_loss(const at::Tensor& logits) {
  return at::log_softmax(logits.to(at::kFloat), -1).select(1, 5).sum() + logits.to(at::kFloat).pow(2).mean();
}

// Parameter gradients of probe_loss (fp32 copies); the logits (fp32) into *logits_out when given.
inline std::map<std::string, at::Tensor> probe_grads(model::CausalLM& m, const model::PackedInput& in,
                                                     at::Tensor* logits_out) {
  for (auto& [n, p] : m.named_parameters(true)) p.mutable_grad() = at::Tensor();
  auto logits = m.logits(in);
  probe_loss(logits).backward();
  if (logits_out) *logits_out = logits.detach().to(at::kFloat);
  std::map<std::string, at::Tensor> g;
  for (auto& [n, p] : m.named_parameters(true)) g[n] = p.grad().to(at::kFloat).clone();
  return g;
}

inline double max_abs(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }

// The smallest cosine between matching gradients of two runs.
inline double worst_cosine(const std::map<std::string, at::Tensor>& a, const std::map<std::string, at::Tensor>& b) {
  double worst = 1;
  for (const auto& [n, g] : a) {
    auto x = g.flatten(), y = b.at(n).flatten();
    worst = std::min(worst, (x.dot(y) / (x.norm() * y.norm() + 1e-12)).item<double>());
  }
  return worst;
}

}  // namespace pt::test
