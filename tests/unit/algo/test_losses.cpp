// The chunked cross-entropy equals plain cross-entropy in value and gradient, never lets the LM
// head's padding rows take probability, and works with chunks that do not divide the token count.
#include <catch2/catch.hpp>

#include <torch/torch.h>

#include <optional>

#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include "algo/logprobs.h"
#include "algo/losses.h"
#include "model/grad_accumulation.h"

using namespace pt;

namespace {
struct CountHook : torch::autograd::PostAccumulateGradHook {
  explicit CountHook(int* calls) : calls(calls) {}
  void operator()(const torch::autograd::Variable&) override { ++*calls; }
  int* calls;
};
}  // namespace

TEST_CASE("chunked cross-entropy equals plain cross-entropy (value and gradients)", "[algo][loss]") {
  torch::manual_seed(0);
  const int64_t n = 37, H = 24, V = 101, padded = 128;
  for (int64_t chunk : {1, 8, 37, 1000}) {
    auto h1 = torch::randn({n, H}, torch::requires_grad());
    auto w_full = torch::randn({padded, H}) * 0.5;
    w_full.narrow(0, V, padded - V).zero_();
    auto w1 = w_full.clone().requires_grad_();
    auto y = torch::randint(0, V, {n}, torch::kLong);
    auto h2 = h1.detach().clone().requires_grad_();
    auto w2 = w_full.clone().requires_grad_();

    auto a = algo::chunked_cross_entropy(h1, w1, y, V, chunk);
    auto b = algo::plain_cross_entropy(h2, w2, y, V);
    INFO("chunk " << chunk);
    CHECK(a.item<double>() == Approx(b.item<double>()).epsilon(1e-5));
    (a * 0.5).backward();
    (b * 0.5).backward();
    CHECK((h1.grad() - h2.grad()).abs().max().item<double>() < 1e-5);
    CHECK((w1.grad() - w2.grad()).abs().max().item<double>() < 1e-5);
    // Padding rows get no probability, hence no gradient.
    CHECK(w1.grad().narrow(0, V, padded - V).abs().max().item<double>() == 0.0);
  }
}

TEST_CASE("weighted chunked cross-entropy equals the weighted plain sum, and unit weights change nothing",
          "[algo][loss]") {
  torch::manual_seed(1);
  const int64_t n = 29, H = 16, V = 70, padded = 128;
  auto w_full = torch::randn({padded, H}) * 0.5;
  auto y = torch::randint(0, V, {n}, torch::kLong);
  auto weights = torch::rand({n}) * 3;
  weights[4] = 0;
  auto h0 = torch::randn({n, H});
  for (int64_t chunk : {1, 8, 1000}) {
    auto h1 = h0.clone().requires_grad_(), h2 = h0.clone().requires_grad_(), h3 = h0.clone().requires_grad_();
    auto w1 = w_full.clone().requires_grad_(), w2 = w_full.clone().requires_grad_(), w3 = w_full.clone().requires_grad_();
    auto a = algo::chunked_cross_entropy(h1, w1, y, V, chunk, weights);
    auto b = algo::plain_cross_entropy(h2, w2, y, V, weights);
    INFO("chunk " << chunk);
    CHECK(a.item<double>() == Approx(b.item<double>()).epsilon(1e-5));
    a.backward();
    b.backward();
    CHECK((h1.grad() - h2.grad()).abs().max().item<double>() < 1e-5);
    CHECK((w1.grad() - w2.grad()).abs().max().item<double>() < 1e-5);
    CHECK(h1.grad()[4].abs().max().item<double>() == 0.0);  // weight 0: no gradient
    auto ones = algo::chunked_cross_entropy(h3, w3, y, V, chunk, torch::ones({n}));
    auto none = algo::chunked_cross_entropy(h0, w_full, y, V, chunk);
    CHECK(ones.item<double>() == none.item<double>());
  }
}

TEST_CASE("chunked cross-entropy without gradients and on empty input", "[algo][loss]") {
  auto h = torch::randn({5, 8});
  auto w = torch::randn({16, 8});
  auto y = torch::randint(0, 16, {5}, torch::kLong);
  {
    torch::NoGradGuard ng;
    CHECK(algo::chunked_cross_entropy(h, w, y, 16, 2).item<double>() ==
          Approx(algo::plain_cross_entropy(h, w, y, 16).item<double>()).epsilon(1e-6));
  }
  auto none = algo::chunked_cross_entropy(torch::randn({0, 8}), w, torch::empty({0}, torch::kLong), 16, 4);
  CHECK(none.item<double>() == 0.0);
}

TEST_CASE("fused gradient accumulation of a tied head and lookup equals plain autograd",
          "[algo][loss]") {
  // Two micro-batches through a tied weight (lookup + LM head), the trainer's pattern: the fused path
  // (dW added into .grad by the loss, the lookup's gradient sparse) must give what plain autograd gives,
  // for the chunked cross-entropy (SFT) and the chunked log-probs (RL, DPO, distillation) alike.
  for (const bool logprobs : {false, true}) {
  INFO("chunked_logprobs " << logprobs);
  torch::manual_seed(4);
  const int64_t n = 23, H = 16, V = 90, padded = 128;
  auto w0 = torch::randn({padded, H}) * 0.5;
  auto ids = torch::randint(0, V, {2, n}, torch::kLong);
  auto y = torch::randint(0, V, {2, n}, torch::kLong);
  auto run = [&](bool fused, bool hooked) {
    auto w = w0.clone().requires_grad_();
    int hook_calls = 0;
    if (hooked)  // what data parallelism registers: then nothing may bypass AccumulateGrad
      torch::autograd::impl::set_post_acc_grad_hooks(w, std::make_unique<CountHook>(&hook_calls));
    for (int mb = 0; mb < 2; ++mb) {
      std::optional<model::GradAccumulationScope> scope;
      if (fused) scope.emplace();
      const bool sparse = model::sparse_lookup_grad_ok(w);
      CHECK(sparse == (fused && mb == 1));  // the first micro-batch has no .grad to add a sparse one into
      auto x = at::embedding(w, ids[mb], -1, false, sparse);
      auto hidden = torch::tanh(x * 1.5);
      if (logprobs)  // per-token coefficients, as a policy loss weighs its tokens
        (algo::chunked_logprobs(hidden, w, y[mb], V, 7) * torch::linspace(-1, 2, n)).sum().backward();
      else
        (algo::chunked_cross_entropy(hidden, w, y[mb], V, 7) * 0.25).backward();
    }
    if (hooked) {
      CHECK(hook_calls == 2);
      torch::autograd::impl::set_post_acc_grad_hooks(w, nullptr);
    }
    return w.grad();
  };
  auto plain = run(false, false);
  for (bool hooked : {false, true}) {
    INFO("hooked " << hooked);
    auto fused = run(true, hooked);
    REQUIRE(fused.layout() == at::kStrided);
    CHECK((fused - plain).abs().max().item<double>() < 1e-6);
  }
  CHECK(plain.abs().max().item<double>() > 0);
  }
}
