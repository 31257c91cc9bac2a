// The RL controller's stages on a tiny policy with a reward handed in by the test (the factory the
// registry normally supplies): rollout (group_size seeded samples per prompt, reproducible),
// score (the injected reward, DAPO's overlong punishment), advantages (group-normalized) and
// select (dynamic sampling drops groups whose rewards are all equal).
#include <catch2/catch.hpp>

#include "../model/model_fixtures.h"
#include "algo/grpo_losses.h"
#include "rl/controller.h"

using namespace pt;

namespace {

// Scores a completion by its first token's parity, or by the prompt's "all" field when present.
class ParityReward : public rl::RewardFunction {
 public:
  std::vector<double> score(const std::vector<rl::RewardSample>& batch) override {
    std::vector<double> out;
    for (const auto& s : batch)
      out.push_back(s.record.contains("all") ? s.record["all"].get<double>() : static_cast<double>(s.completion_tokens % 2));
    return out;
  }
};

rl::RewardFactory parity_factory(int* built) {
  return [built](const algo::RewardOptions& o) -> std::unique_ptr<rl::RewardFunction> {
    REQUIRE(o.name == "parity");
    ++*built;
    return std::make_unique<ParityReward>();
  };
}

rl::PromptBatch prompts() {
  rl::PromptBatch pb;
  pb.prompts = {{5, 6, 7}, {8, 9}, {10, 11, 12, 13}};
  pb.records = {nlohmann::json::object(), nlohmann::json::object(), {{"all", 0.5}}};
  pb.global_index = {0, 1, 2};
  return pb;
}

}  // namespace

TEST_CASE("controller stages: rollout, score, advantages, select", "[rl][controller]") {
  auto m = test::load_tiny("qwen2");
  algo::GrpoOptions o;
  o.group_size = 4;
  o.max_new_tokens = 6;
  o.temperature = 1.0;
  o.dynamic_sampling = true;
  o.rewards = {algo::RewardOptions{}};
  o.rewards[0].name = "parity";
  int built = 0;
  rl::Controller c(o, {parity_factory(&built), nullptr}, 7, *m, nullptr);
  CHECK(built == 1);
  const auto pb = prompts();

  auto r = c.rollout(pb, /*step=*/3, /*training=*/true);
  REQUIRE(r.completions.size() == 12);
  for (size_t i = 0; i < r.completions.size(); ++i) {
    CHECK(r.prompt_of[i] == i / 4);
    CHECK(!r.completions[i].tokens.empty());
    CHECK(r.completions[i].tokens.size() <= 6u);
  }
  // Seeded by (run seed, step, prompt, sample): the same step draws the same rollouts.
  auto again = c.rollout(pb, 3, true);
  for (size_t i = 0; i < r.completions.size(); ++i) CHECK(again.completions[i].tokens == r.completions[i].tokens);

  c.score(pb, r);
  REQUIRE(r.rewards.size() == 12);
  for (size_t i = 0; i < 8; ++i) CHECK(r.rewards[i] == static_cast<double>(r.completions[i].tokens.size() % 2));
  for (size_t i = 8; i < 12; ++i) CHECK(r.rewards[i] == 0.5);

  c.advantages(r, [](std::vector<double> v) { return v; });
  const at::Tensor expect = algo::group_advantages(at::tensor(r.rewards, at::TensorOptions().dtype(at::kDouble)), 4,
                                                   algo::RewardScale::Group);
  CHECK(at::allclose(r.advantages, expect));
  for (size_t i = 8; i < 12; ++i) CHECK(r.advantages[static_cast<int64_t>(i)].item<double>() == 0.0);

  c.select(r);
  // The third group's rewards are all equal: no signal, dropped; the others kept unless all equal too.
  for (size_t i = 8; i < 12; ++i) CHECK_FALSE(r.keep[i]);
  for (size_t g = 0; g < 2; ++g) {
    bool equal = true;
    for (size_t j = 1; j < 4; ++j) equal = equal && r.rewards[g * 4 + j] == r.rewards[g * 4];
    for (size_t j = 0; j < 4; ++j) CHECK(r.keep[g * 4 + j] == !equal);
  }

  // Evaluation: one greedy completion per prompt, no baseline.
  auto e = c.rollout(pb, 3, /*training=*/false);
  REQUIRE(e.completions.size() == 3);
  c.score(pb, e);
  c.advantages(e, [](std::vector<double> v) { return v; });
  CHECK(at::equal(e.advantages, at::zeros({3}, at::kDouble)));
}

TEST_CASE("controller score: DAPO's overlong punishment is linear in the last tokens", "[rl][controller]") {
  auto m = test::load_tiny("qwen2");
  algo::GrpoOptions o;
  o.group_size = 2;
  o.max_new_tokens = 6;
  o.overlong_buffer = 4;
  o.overlong_penalty = 1.0;
  o.rewards = {algo::RewardOptions{}};
  o.rewards[0].name = "parity";
  int built = 0;
  rl::Controller c(o, {parity_factory(&built), nullptr}, 7, *m, nullptr);
  const auto pb = prompts();
  auto r = c.rollout(pb, 0, true);
  c.score(pb, r);
  for (size_t i = 0; i < r.completions.size(); ++i) {
    const double n = static_cast<double>(r.completions[i].tokens.size());
    const double base = r.scores.total[i];
    CHECK(r.rewards[i] == Approx(base - std::min(1.0, std::max(0.0, n - 2) / 4)));
  }
}
