// trainer.precision: bf16 on the CPU: the same autocast a GPU step runs (fp32 master weights, bf16
// GEMMs), here where it can be checked on every build: a model step against fp32, and the chunked
// head losses against their plain forms computed under autocast, with backward run outside the
// autocast region as the trainer runs it.
#include <catch2/catch.hpp>

#include <ATen/autocast_mode.h>

#include <cstdio>

#include <torch/torch.h>

#include "algo/lm_head.h"
#include "algo/logprobs.h"
#include "algo/losses.h"
#include "model/autocast.h"
#include "grad_probe.h"
#include "model_fixtures.h"

using namespace pt;

namespace {
struct CpuAutocast {
  CpuAutocast() {
    at::autocast::set_autocast_enabled(at::kCPU, true);
    at::autocast::set_autocast_dtype(at::kCPU, at::kBFloat16);
  }
  ~CpuAutocast() {
    at::autocast::set_autocast_enabled(at::kCPU, false);
    at::autocast::clear_cache();
  }
};

double rel(const at::Tensor& a, const at::Tensor& b) { return ((a - b).norm() / (b.norm() + 1e-12)).item<double>(); }
}  // namespace

TEST_CASE("a bf16-autocast step on the CPU stays within tolerance of fp32", "[model][autocast]") {
  auto ref = test::load_reference("qwen3");
  auto in = model::PackedInput::from_documents(ref.docs, at::kCPU);
  auto m = test::load_tiny("qwen3");
  at::Tensor l32, l16;
  auto g32 = test::probe_grads(*m, in, &l32);
  std::map<std::string, at::Tensor> g16;
  {
    CpuAutocast on;
    g16 = test::probe_grads(*m, in, &l16);
  }
  const double loss32 = test::probe_loss(l32).item<double>(), loss16 = test::probe_loss(l16).item<double>();
  const double cos = test::worst_cosine(g32, g16);
  std::printf("cpu bf16 autocast vs fp32: logits max_abs=%.3g, probe loss %.6f vs %.6f, worst grad cosine %.5f\n",
              test::max_abs(l16, l32), loss16, loss32, cos);
  CHECK(test::max_abs(l32, at::cat(ref.logits, 0)) <= 1e-4);
  CHECK(test::max_abs(l16, l32) > 0);  // autocast did run the GEMMs in bf16
  CHECK(test::max_abs(l16, l32) <= 0.1);
  CHECK(std::abs(loss16 - loss32) <= 2e-2 * std::abs(loss32));
  CHECK(cos >= 0.99);
}

TEST_CASE("under CPU bf16 autocast the chunked head losses equal their plain forms (values and gradients)",
          "[algo][autocast]") {
  torch::manual_seed(0);
  const int64_t n = 37, H = 32, V = 300, padded = 320;
  auto w_full = torch::randn({padded, H}) * 0.3;
  auto y = torch::randint(0, V, {n}, torch::kLong);
  auto g = torch::randn({n});
  for (const char* loss : {"cross-entropy", "log-probs"}) {
    for (int64_t chunk : {8, 64}) {
      INFO(loss << ", chunk " << chunk);
      auto h1 = torch::randn({n, H}, torch::requires_grad());
      auto h2 = h1.detach().clone().requires_grad_();
      auto w1 = w_full.clone().requires_grad_(), w2 = w_full.clone().requires_grad_();
      at::Tensor a, b;
      {
        CpuAutocast on;
        REQUIRE(!algo::head_logits_direct(h1, w1));  // the path a GPU takes, not the fp32 one
        REQUIRE(algo::head_compute_dtype(h1, w1) == at::kBFloat16);
        if (std::string(loss) == "cross-entropy") {
          a = algo::chunked_cross_entropy(h1, w1, y, V, chunk);
          b = algo::plain_cross_entropy(h2, w2, y, V);
        } else {
          a = (algo::chunked_logprobs(h1, w1, y, V, chunk) * g).sum();
          b = (algo::plain_logprobs(h2, w2, y, V) * g).sum();
        }
      }
      // Outside autocast, as the trainer calls backward; the log-probs' backward recomputes the
      // logits and must do so in the forward's precision.
      a.backward();
      b.backward();
      REQUIRE(h1.grad().scalar_type() == at::kFloat);
      REQUIRE(w1.grad().scalar_type() == at::kFloat);
      const double dv = std::abs(a.item<double>() - b.item<double>()) / std::abs(b.item<double>());
      const double dh = rel(h1.grad(), h2.grad()), dw = rel(w1.grad(), w2.grad());
      std::printf("autocast %s chunk %ld: value %.2g, grad_h %.2g, grad_w %.2g (relative)\n", loss, chunk, dv, dh, dw);
      // The same bf16 GEMMs as autograd's: equal but for the order of sums (grad_w over several
      // chunks adds bf16 products in fp32). Recomputing the log-probs' logits in fp32 in backward
      // (autocast off there) gives 3.5e-3 on both gradients.
      CHECK(dv <= 1e-4);
      CHECK(dh <= 1e-3);
      CHECK(dw <= (chunk < n ? 1e-2 : 1e-3));
      // and they are bf16 results, not fp32 ones
      auto w3 = w_full.clone().requires_grad_();
      auto h3 = h1.detach().clone().requires_grad_();
      at::Tensor c = std::string(loss) == "cross-entropy" ? algo::plain_cross_entropy(h3, w3, y, V)
                                                          : (algo::plain_logprobs(h3, w3, y, V) * g).sum();
      c.backward();
      CHECK(rel(w1.grad(), w3.grad()) > 1e-5);
      CHECK(!at::autocast::is_autocast_enabled(at::kCPU));
    }
  }
}

TEST_CASE("AutocastScope sets the saved state and puts the caller's back", "[algo][autocast]") {
  auto t = torch::zeros({2});
  REQUIRE(!at::autocast::is_autocast_enabled(at::kCPU));
  model::AutocastState on;
  {
    CpuAutocast region;
    on = model::AutocastState::of(t);
  }
  const auto round = model::AutocastState::unpack(on.pack());
  CHECK(round.enabled);
  CHECK(round.device == at::kCPU);
  CHECK(round.dtype == at::kBFloat16);
  {
    model::AutocastScope scope(round);
    CHECK(at::autocast::is_autocast_enabled(at::kCPU));
    CHECK(at::autocast::get_autocast_dtype(at::kCPU) == at::kBFloat16);
  }
  CHECK(!at::autocast::is_autocast_enabled(at::kCPU));
  {
    CpuAutocast region;
    {
      model::AutocastScope off(model::AutocastState{at::kCPU, false, at::kBFloat16});
      CHECK(!at::autocast::is_autocast_enabled(at::kCPU));
    }
    CHECK(at::autocast::is_autocast_enabled(at::kCPU));
  }
}
