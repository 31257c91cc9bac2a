// pass@k (Chen et al. 2021): the unbiased estimator against its combinatorial definition.
#include <catch2/catch.hpp>

#include <cmath>

#include "eval/evaluate_task.h"

using namespace pt;

namespace {
double choose(int n, int k) {
  if (k < 0 || k > n) return 0;
  return std::exp(std::lgamma(n + 1.0) - std::lgamma(k + 1.0) - std::lgamma(n - k + 1.0));
}
}  // namespace

TEST_CASE("pass@k is 1 - C(n-c, k) / C(n, k)", "[eval]") {
  for (int n = 1; n <= 12; ++n)
    for (int c = 0; c <= n; ++c)
      for (int k = 1; k <= n; ++k) {
        INFO("n " << n << " c " << c << " k " << k);
        CHECK(std::abs(eval::pass_at_k(n, c, k) - (1 - choose(n - c, k) / choose(n, k))) < 1e-12);
      }
  CHECK(eval::pass_at_k(4, 1, 1) == Approx(0.25));  // pass@1 is the fraction correct
  CHECK(eval::pass_at_k(10, 0, 5) == 0);
  CHECK(eval::pass_at_k(10, 6, 5) == 1);  // fewer than k wrong: some pick of k holds a correct one
}
