// How prepared steps are laid out: GRPO's selected completions split over mini-batches
// (split_even), and RL samples, KTO's mismatched pairs and on-policy answers packed into
// micro-batches under the token budget (group_by_budget).
#include <catch2/catch.hpp>

#include "algo/algorithm.h"

using namespace pt;

TEST_CASE("split_even: consecutive, near-equal slices in order", "[micro_batching]") {
  const std::vector<size_t> items{10, 11, 12, 13, 14, 15, 16};
  auto s = algo::split_even(items, 3);
  REQUIRE(s.size() == 3);
  CHECK(s[0] == std::vector<size_t>{10, 11, 12});
  CHECK(s[1] == std::vector<size_t>{13, 14});
  CHECK(s[2] == std::vector<size_t>{15, 16});
  // One slice: everything; more slices than items: some empty, none lost or repeated.
  CHECK(algo::split_even(items, 1)[0] == items);
  auto many = algo::split_even({1, 2}, 4);
  REQUIRE(many.size() == 4);
  size_t total = 0;
  for (const auto& x : many) total += x.size();
  CHECK(total == 2);
  CHECK(algo::split_even({}, 2) == std::vector<std::vector<size_t>>(2));
}

TEST_CASE("group_by_budget: a group closes before the item that would overflow it", "[micro_batching]") {
  // budget 10: [4, 5] = 9, then 3 would make 12 -> new group [3, 7] = 10 (exactly full), [2].
  auto g = algo::group_by_budget({4, 5, 3, 7, 2}, 10);
  REQUIRE(g.size() == 3);
  CHECK(g[0] == std::vector<size_t>{0, 1});
  CHECK(g[1] == std::vector<size_t>{2, 3});
  CHECK(g[2] == std::vector<size_t>{4});
  // An item longer than the budget is a group of its own, never dropped.
  g = algo::group_by_budget({3, 25, 3}, 10);
  REQUIRE(g.size() == 3);
  CHECK(g[1] == std::vector<size_t>{1});
  CHECK(algo::group_by_budget({}, 10).empty());
  // Every item exactly once, in order, whatever the budget.
  const std::vector<int64_t> lens{1, 9, 2, 8, 3, 7, 4, 6, 5, 5};
  for (int64_t budget : {1, 5, 10, 17, 100}) {
    std::vector<size_t> seen;
    for (const auto& grp : algo::group_by_budget(lens, budget)) {
      int64_t t = 0;
      for (size_t i : grp) t += lens[i];
      CHECK((grp.size() == 1 || t <= budget));
      seen.insert(seen.end(), grp.begin(), grp.end());
    }
    REQUIRE(seen.size() == lens.size());
    for (size_t i = 0; i < seen.size(); ++i) CHECK(seen[i] == i);
  }
}
