// The episode stage on the quickstart model and tokenizer (ChatML) with scripted environments: every
// stop reason (done, max_turns, budget, env_error under skip; a run-stopping error under error), the
// sequence grows by exactly the template's deltas (the environment's tokens untrained, with log-prob
// 0), the reward functions see the last turn, and the environment's return and counts reach metrics.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "model/causal_lm.h"
#include "rl/controller.h"
#include "tokenizer/hf_tokenizer.h"

using namespace pt;

namespace {

std::string quickstart(const std::string& rel) { return std::string(PT_SOURCE_DIR) + "/examples/quickstart/" + rel; }

// Answers "again" (reward 0.25) until `done_at` turns (reward 1, done); throws on turn `fail_at`.
class Scripted : public env::Environment {
 public:
  Scripted(int done_at, int fail_at) : done_at_(done_at), fail_at_(fail_at) {}
  env::Opening reset(uint64_t, const nlohmann::json&, uint64_t) override {
    env::Opening op;
    op.messages.push_back({{"role", "user"}, {"content", "Reverse the digits: 123"}});
    return op;
  }
  env::Observation step(uint64_t, const env::AssistantTurn& t) override {
    if (t.index + 1 == fail_at_) throw std::runtime_error("scripted failure");
    env::Observation o;
    o.tool_calls_ok = 1;
    if (t.index + 1 >= done_at_) {
      o.done = true;
      o.reward = 1;
      return o;
    }
    o.reward = 0.25;
    o.messages.push_back({{"role", "user"}, {"content", "again"}});
    return o;
  }

 private:
  int done_at_, fail_at_;
};

struct Fixture {
  std::unique_ptr<model::CausalLM> m;
  tok::HfTokenizer tok = tok::HfTokenizer::from_dir(quickstart("tokenizer"));
  Fixture() {
    model::ModelOptions o;
    o.path = quickstart("model");
    m = model::CausalLM::from_pretrained(o, at::kCPU);
  }
  rl::Rollouts run(algo::GrpoOptions o, int done_at, int fail_at) {
    o.group_size = 2;
    o.max_new_tokens = 4;
    rl::StageFactories make;
    make.environment = [=](const algo::EnvironmentOptions&) { return std::make_unique<Scripted>(done_at, fail_at); };
    rl::Controller c(o, make, 7, *m, &tok);
    rl::PromptBatch pb;
    pb.prompts = {{5, 6, 7}};
    pb.records = {nlohmann::json::object()};
    pb.global_index = {0};
    auto r = c.rollout(pb, 1, true);
    c.score(pb, r);
    return r;
  }
};

}  // namespace

TEST_CASE("episodes stop for every reason, grow by the template's deltas and train only sampled tokens", "[rl][episodes]") {
  Fixture f;
  algo::GrpoOptions o;
  o.environment.name = "scripted";
  o.environment.max_turns = 3;
  o.environment.max_episode_tokens = 200;

  auto done = f.run(o, /*done_at=*/2, /*fail_at=*/0);
  REQUIRE(done.completions.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    const auto& c = done.completions[i];
    const auto& e = done.episodes[i];
    CHECK(e.stop == "done");
    CHECK(c.turns == 2);
    CHECK(e.env_reward == 1.25);
    CHECK(e.tool_calls_ok == 2);
    CHECK(done.rewards[i] == 1.25);  // no reward functions: the environment's return
    REQUIRE(c.sampled.size() == c.tokens.size());
    // The prompt is the environment's opening, rendered; the answer between the turns is the
    // template's delta after the sampled end-of-turn token (or closing a turn cut at max_new_tokens).
    const std::string prompt = f.tok.tokenizer().decode(done.prompts[i], false);
    CHECK(prompt == "<|im_start|>user\nReverse the digits: 123<|im_end|>\n<|im_start|>assistant\n");
    std::vector<int32_t> env_tokens;
    for (size_t t = 0; t < c.tokens.size(); ++t)
      if (!c.sampled[t]) {
        env_tokens.push_back(c.tokens[t]);
        CHECK(c.logprobs[t] == 0.0);
      }
    const std::string answer = f.tok.tokenizer().decode(env_tokens, false);
    CHECK(answer.find("<|im_start|>user\nagain<|im_end|>\n<|im_start|>assistant\n") != std::string::npos);
  }

  auto turns = f.run(o, /*done_at=*/9, 0);
  for (const auto& e : turns.episodes) CHECK(e.stop == "max_turns");
  for (const auto& c : turns.completions) CHECK(c.turns == 3);
  for (double v : turns.rewards) CHECK(v == 0.75);

  o.environment.max_episode_tokens = 12;  // the first answer alone is longer
  auto budget = f.run(o, 9, 0);
  for (const auto& e : budget.episodes) CHECK(e.stop == "budget");
  for (const auto& c : budget.completions) CHECK(c.turns == 1);

  o.environment.max_episode_tokens = 200;
  o.environment.on_error = algo::OnRewardError::Skip;
  auto skipped = f.run(o, 9, /*fail_at=*/2);
  for (size_t i = 0; i < 2; ++i) {
    CHECK(skipped.episodes[i].stop == "env_error");
    CHECK(std::isnan(skipped.rewards[i]));  // unscored: no advantage
  }
  o.environment.on_error = algo::OnRewardError::Error;
  CHECK_THROWS_WITH(f.run(o, 9, 2), Catch::Contains("episode") && Catch::Contains("turn 2: scripted failure"));
}

TEST_CASE("per-token rewards: environment rewards at their turns, the rest at the end", "[rl][episodes]") {
  // Turn rewards 1 (turn ending at token 2) and 0.5 (token 5), total 2.25: 0.75 left for the end.
  const auto r = rl::per_token_rewards(2.25, {{2, 1.0}, {5, 0.5}}, 8);
  const std::vector<double> want{0, 0, 1.0, 0, 0, 0.5, 0, 0.75};
  CHECK(r == want);
  // Single-turn (no turn rewards): the whole reward on the last token.
  CHECK(rl::per_token_rewards(1.5, {}, 3) == std::vector<double>{0, 0, 1.5});
  // A turn reward on the last token adds to the outcome there; positions past the end are clamped.
  CHECK(rl::per_token_rewards(1.0, {{3, 1.0}}, 4) == std::vector<double>{0, 0, 0, 1.0});
  CHECK(rl::per_token_rewards(1.0, {{9, 0.25}}, 2) == std::vector<double>{0, 1.0});
  CHECK(rl::per_token_rewards(1.0, {}, 0).empty());
}
