// Chunked per-token log-probs and the chunked distillation divergence equal their plain
// full-logits formulations in value and gradients, for chunk sizes that do and do not divide n.
#include <catch2/catch.hpp>

#include <cmath>

#include <torch/torch.h>

#include "algo/distill_losses.h"
#include "algo/logprobs.h"

using namespace pt;

TEST_CASE("chunked log-probs equal log_softmax of the full logits (values and gradients)", "[algo][logprobs]") {
  torch::manual_seed(0);
  const int64_t n = 29, H = 16, V = 75, padded = 128;
  // fp32 on the CPU writes the logits into a reused block (head_logits), other dtypes (and CUDA) get
  // fresh ones. A frozen head (LoRA, a reference model) wants only the hidden gradient.
  for (auto dtype : {torch::kFloat, torch::kDouble}) {
    for (bool train_head : {true, false}) {
      for (int64_t chunk : {1, 7, 29, 512}) {
        INFO("dtype " << dtype << ", head trained " << train_head << ", chunk " << chunk);
        auto w_full = torch::randn({padded, H}, dtype) * 0.5;
        auto h1 = torch::randn({n, H}, torch::dtype(dtype).requires_grad(true));
        auto w1 = w_full.clone().requires_grad_(train_head);
        auto h2 = h1.detach().clone().requires_grad_();
        auto w2 = w_full.clone().requires_grad_(train_head);
        auto y = torch::randint(0, V, {n}, torch::kLong);
        auto g = torch::randn({n});  // arbitrary per-token weights in the backward pass
        auto a = algo::chunked_logprobs(h1, w1, y, V, chunk);
        auto b = algo::plain_logprobs(h2, w2, y, V);
        REQUIRE(a.scalar_type() == torch::kFloat);
        CHECK((a - b).abs().max().item<double>() < 1e-5);
        (a * g).sum().backward();
        (b * g).sum().backward();
        CHECK((h1.grad() - h2.grad()).abs().max().item<double>() < 1e-5);
        if (!train_head) {
          CHECK(!w1.grad().defined());
          continue;
        }
        REQUIRE(w1.grad().scalar_type() == dtype);
        CHECK((w1.grad() - w2.grad()).abs().max().item<double>() < 1e-5);
        // Padding rows of the head never take probability, so they get no gradient.
        CHECK(w1.grad().narrow(0, V, padded - V).abs().max().item<double>() == 0);
      }
    }
  }
}

TEST_CASE("chunked log-probs near 0 keep their precision", "[algo][logprobs]") {
  // One logit 20 above the rest: log p = -1.4e-7. Formed as logit - lse in fp32 it would round at the
  // logit's magnitude (ulp 1.9e-6: 0 or -1.9e-6); from the shifted logits only the sum's own rounding
  // at 1 (half an ulp, 6e-8) remains.
  const int64_t H = 4, V = 70, padded = 128;
  auto w = torch::zeros({padded, H});
  w.index_put_({5, 0}, 20.0);
  auto h = torch::zeros({3, H});
  h.select(1, 0).fill_(1.0);
  auto y = torch::full({3}, 5, torch::kLong);
  auto lp = algo::chunked_logprobs(h, w, y, V, 2);
  const double exact = -std::log1p((V - 1) * std::exp(-20.0));
  CHECK(lp.max().item<double>() < 0);
  CHECK((lp.to(torch::kDouble) - exact).abs().max().item<double>() < 6e-8);
}

TEST_CASE("segment sums add per-token values per document", "[algo][logprobs]") {
  auto v = torch::tensor({1.0, 2.0, 3.0, 4.0});
  auto s = torch::tensor({0, 2, 0, 2}, torch::kLong);
  auto out = algo::segment_sum(v, s, 3);
  CHECK(out[0].item<double>() == 4);
  CHECK(out[1].item<double>() == 0);
  CHECK(out[2].item<double>() == 6);
}

TEST_CASE("chunked distillation equals the divergence of the full logits (values and gradients)", "[algo][distill]") {
  torch::manual_seed(1);
  const int64_t n = 23, Hs = 12, Ht = 20, V = 50;
  // Student and teacher pad their heads differently; only the first V columns are compared.
  auto ws0 = torch::randn({64, Hs}) * 0.5, wt = torch::randn({57, Ht}) * 0.5, ht = torch::randn({n, Ht});
  for (double beta : {0.0, 0.3, 1.0})
    for (int64_t top_k : {0, 5})
      for (int64_t chunk : {4, 23, 100}) {
        INFO("beta " << beta << " top_k " << top_k << " chunk " << chunk);
        algo::DistillParams p{beta, 1.7, top_k};
        auto hs1 = torch::randn({n, Hs}).requires_grad_();
        auto ws1 = ws0.clone().requires_grad_();
        auto hs2 = hs1.detach().clone().requires_grad_();
        auto ws2 = ws0.clone().requires_grad_();
        auto a = algo::chunked_distillation(hs1, ws1, ht, wt, V, chunk, p);
        auto ls = torch::matmul(hs2, ws2.narrow(0, 0, V).t()), lt = torch::matmul(ht, wt.narrow(0, 0, V).t());
        auto b = algo::generalized_jsd(ls, lt, p).sum();
        CHECK(std::abs(a.item<double>() - b.item<double>()) < 1e-4 * std::max(1.0, std::abs(b.item<double>())));
        (a * 0.3).backward();
        (b * 0.3).backward();
        CHECK((hs1.grad() - hs2.grad()).abs().max().item<double>() < 1e-5);
        CHECK((ws1.grad() - ws2.grad()).abs().max().item<double>() < 1e-5);
      }
}

TEST_CASE("divergences: zero for equal distributions, positive otherwise, forward/reverse KL by beta",
          "[algo][distill]") {
  torch::manual_seed(2);
  auto s = torch::randn({6, 9}, torch::kDouble), t = torch::randn({6, 9}, torch::kDouble);
  for (double beta : {0.0, 0.5, 1.0}) {
    algo::DistillParams p{beta, 1.0, 0};
    CHECK(algo::generalized_jsd(s, s, p).abs().max().item<double>() < 1e-12);
    CHECK(algo::generalized_jsd(s, t, p).min().item<double>() > 0);
  }
  auto ls = torch::log_softmax(s, -1), lt = torch::log_softmax(t, -1);
  auto fwd = (lt.exp() * (lt - ls)).sum(-1), rev = (ls.exp() * (ls - lt)).sum(-1);
  CHECK((algo::generalized_jsd(s, t, {0.0, 1.0, 0}) - fwd).abs().max().item<double>() < 1e-12);
  CHECK((algo::generalized_jsd(s, t, {1.0, 1.0, 0}) - rev).abs().max().item<double>() < 1e-12);
}
