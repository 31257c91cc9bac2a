// The transposed-layout CE kernels (the fp32 CPU LM-head path) against ATen on the same block, at
// widths that reach every code path: column ranges wider than the kernel takes at once, 4-vector and
// 1-vector groups, scalar tails, row slabs (more rows than one slab), padding rows, extreme logits,
// on the instruction set this CPU dispatches to.
#include <catch2/catch.hpp>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "algo/column_softmax.h"
#include "kernels/cpu/column_softmax.h"

using namespace pt;

TEST_CASE("column log-sum-exp and softmax - onehot equal ATen's", "[algo][loss][kernels]") {
  torch::manual_seed(0);
  INFO("isa " << algo::column_softmax_isa());
  for (int64_t vocab : {5, 200, 20000}) {
    for (int64_t m : {1, 7, 8, 70, 131}) {
      const int64_t padded = vocab + 13;
      auto lt = torch::randn({padded, m}) * 4;
      lt[0][0] = 80.f;  // exp overflows without the max shift
      lt.narrow(0, vocab, padded - vocab).fill_(1e4);  // padding must not count
      auto y = torch::randint(0, vocab, {m}, torch::kLong);
      auto w = torch::rand({m});
      auto real = lt.narrow(0, 0, vocab).to(torch::kDouble);  // the reference in fp64
      auto want_lse = real.logsumexp(0);
      auto parts = algo::column_logsumexp(lt, vocab);
      auto lse = parts.lse();
      CAPTURE(vocab, m);
      CHECK(((lse - want_lse) / want_lse.abs().clamp_min(1)).abs().max().item<double>() < 1e-6);
      auto want = torch::softmax(real, 0) * w.unsqueeze(0).to(torch::kDouble);
      want.t().scatter_add_(1, y.unsqueeze(1), -w.unsqueeze(1).to(torch::kDouble));
      auto g = lt.clone();
      algo::column_softmax_minus_onehot_(g, parts, y, w, vocab);
      CHECK((g.narrow(0, 0, vocab) - want).abs().max().item<double>() < 2e-6);
      CHECK(g.narrow(0, vocab, padded - vocab).abs().max().item<double>() == 0.0);
    }
  }
}

TEST_CASE("column log-sum-exp is the same on one thread and on all", "[algo][loss][kernels]") {
  torch::manual_seed(1);
  auto lt = torch::randn({50000, 20});
  const int threads = at::get_num_threads();
  auto all = algo::column_logsumexp(lt, 49990).lse();
  at::set_num_threads(1);
  auto one = algo::column_logsumexp(lt, 49990).lse();
  at::set_num_threads(threads);
  CHECK((all - one).abs().max().item<double>() < 1e-5);
  CHECK((one - lt.narrow(0, 0, 49990).logsumexp(0)).abs().max().item<double>() < 2e-5);
}

TEST_CASE("column softmax refuses bad blocks and labels", "[algo][loss][kernels]") {
  auto lt = torch::randn({10, 4});
  CHECK_THROWS_WITH(algo::column_logsumexp(lt.t(), 4), Catch::Contains("contiguous fp32 CPU"));
  CHECK_THROWS_WITH(algo::column_logsumexp(lt, 11), Catch::Contains("outside the block"));
  auto lse = algo::column_logsumexp(lt, 10);
  CHECK_THROWS_WITH(algo::column_softmax_minus_onehot_(lt, lse, torch::full({4}, 10, torch::kLong), torch::ones({4}), 10),
                    Catch::Contains("label 10 outside"));
}

TEST_CASE("every instruction set this CPU runs gives the same column sums and softmax", "[algo][loss][kernels]") {
  torch::manual_seed(2);
  // 1,100 columns: more than the kernel takes at once (1,024), 4-vector and 1-vector groups and a
  // scalar tail; 3,000 rows: past the first cascade level (64 blocks of 32 rows).
  const int64_t rows = 3000;
  for (int64_t m : {77, 1100}) {
    CAPTURE(m);
    auto x = torch::randn({rows, m}) * 3;
    auto ref = x.to(torch::kDouble);
    auto want_max = std::get<0>(ref.max(0));
    auto want_sum = (ref - want_max.unsqueeze(0)).exp().sum(0);
    // The dispatcher picks the widest set the CPU runs; every narrower one runs too.
    const std::string picked = algo::column_softmax_isa();
    struct Isa {
      const char* name;
      bool runs;
      decltype(&kernels::base::column_max_sumexp) max_sumexp;
      decltype(&kernels::base::rows_exp_scale) exp_scale;
    };
    std::vector<Isa> isas{{"base", true, &kernels::base::column_max_sumexp, &kernels::base::rows_exp_scale}};
#if defined(__x86_64__)
    isas.push_back({"avx2", picked != "base", &kernels::avx2::column_max_sumexp, &kernels::avx2::rows_exp_scale});
    isas.push_back({"avx512", picked == "avx512", &kernels::avx512::column_max_sumexp, &kernels::avx512::rows_exp_scale});
#endif
    for (const Isa& isa : isas) {
      if (!isa.runs) continue;
      CAPTURE(isa.name);
      auto mx = torch::empty({m}), sm = torch::empty({m});
      isa.max_sumexp(x.data_ptr<float>(), rows, m, m, mx.data_ptr<float>(), sm.data_ptr<float>());
      CHECK((mx.to(torch::kDouble) - want_max).abs().max().item<double>() == 0.0);
      CHECK(((sm.to(torch::kDouble) - want_sum) / want_sum).abs().max().item<double>() < 1e-6);
      auto g = x.clone();
      auto ls = sm.log();
      auto w = torch::rand({m});
      isa.exp_scale(g.data_ptr<float>(), rows, m, m, mx.data_ptr<float>(), ls.data_ptr<float>(), w.data_ptr<float>());
      auto want = torch::softmax(ref, 0) * w.to(torch::kDouble).unsqueeze(0);
      CHECK((g.to(torch::kDouble) - want).abs().max().item<double>() < 1e-6);
    }
  }
}
