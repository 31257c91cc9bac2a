// The rollout link's messages: requests (partial rollouts' continuations included) with their episode
// specs, completions (multi-turn masks included) with their episodes and token versions, round-trip exactly.
#include <catch2/catch.hpp>

#include <torch/torch.h>

#include "../model/model_fixtures.h"
#include "rl/rollout_link.h"

using namespace pt;

TEST_CASE("rollout link messages round-trip requests, episode specs, completions and episodes", "[rl][rollout_link]") {
  rl::RolloutBatch b;
  gen::Request q;
  q.prompt = {5, 6, 7};
  q.params.temperature = 0.7;
  q.params.seed = 1234567890123ULL;
  q.params.stop_ids = {2, 9};
  q.params.stop_strings = {"\n\n"};
  q.max_episode_tokens = 321;
  b.requests = {q, q};
  // Partial rollouts: the second continues a completion, in a segment of 5.
  b.requests[1].resume.tokens = {40, 41};
  b.requests[1].resume.logprobs = {-0.5, -1.25};
  b.requests[1].resume.finish_reason = "partial";
  b.requests[1].segment_tokens = 5;
  rl::EpisodeSpec s;
  s.record = nlohmann::json{{"user", 3}, {"prompt", "héllo"}};
  s.data_prompt = {1, 2};
  s.id = (5ULL << 32) | 77;
  s.seed = 42;
  s.where = "episode x";
  b.specs = {s, s};
  const auto back = rl::decode_batch(rl::encode_batch(b));
  REQUIRE(back.requests.size() == 2);
  CHECK(back.requests[1].prompt == q.prompt);
  CHECK(back.requests[1].params.seed == q.params.seed);
  CHECK(back.requests[1].params.stop_strings == q.params.stop_strings);
  CHECK(back.requests[1].max_episode_tokens == 321);
  CHECK(back.requests[0].resume.tokens.empty());
  CHECK(back.requests[0].segment_tokens == 0);
  CHECK(back.requests[1].resume.tokens == std::vector<int32_t>{40, 41});
  CHECK(back.requests[1].resume.logprobs == std::vector<double>{-0.5, -1.25});
  CHECK(back.requests[1].resume.finish_reason == "partial");
  CHECK(back.requests[1].segment_tokens == 5);
  REQUIRE(back.specs.size() == 2);
  CHECK(back.specs[0].record == s.record);
  CHECK(back.specs[0].id == s.id);
  CHECK(back.specs[0].seed == 42);
  CHECK(back.specs[0].data_prompt == s.data_prompt);
  CHECK(back.specs[0].where == "episode x");
  CHECK(rl::decode_batch(rl::encode_batch({b.requests, {}})).specs.empty());

  rl::RemoteRollouts r;
  gen::Completion c;
  c.tokens = {10, 11, 12, 13};
  c.logprobs = {-0.5, 0.0, 0.0, -1.25};
  c.sampled = {1, 0, 0, 1};
  c.turns = 2;
  c.finish_reason = "stop";
  c.text = "a\nb";
  r.completions = {c};
  rl::Episode e;
  e.id = 9;
  e.where = "w";
  e.prompt = {1, 2, 3};
  e.env_reward = 1.5;
  e.tool_calls_ok = 2;
  e.tool_calls_failed = 1;
  e.env_s = 0.25;
  e.stop = "done";
  e.last_text = "42";
  e.last_raw = "<b>42";
  e.turn_rewards = {{3, 1.0}, {7, -0.5}};
  r.episodes.push_back(std::move(e));
  const auto got = rl::decode_results(rl::encode_results(r));
  REQUIRE(got.completions.size() == 1);
  CHECK(got.completions[0].tokens == c.tokens);
  CHECK(got.completions[0].logprobs == c.logprobs);
  CHECK(got.completions[0].sampled == c.sampled);
  CHECK(got.completions[0].turns == 2);
  CHECK(got.completions[0].text == c.text);
  REQUIRE(got.episodes.size() == 1);
  CHECK(got.episodes[0].prompt == std::vector<int32_t>{1, 2, 3});
  CHECK(got.episodes[0].env_reward == 1.5);
  CHECK(got.episodes[0].tool_calls_ok == 2);
  CHECK(got.episodes[0].tool_calls_failed == 1);
  CHECK(got.episodes[0].stop == "done");
  CHECK(got.episodes[0].last_raw == "<b>42");
  CHECK(got.episodes[0].turn_rewards == std::vector<std::pair<int64_t, double>>{{3, 1.0}, {7, -0.5}});
  r.version = 7, r.generate_s = 1.5, r.sync_s = 0.25, r.wait_s = 0.125;
  r.versions = {{5, 5, 6, 7}};
  const auto timed = rl::decode_results(rl::encode_results(r));
  CHECK(got.versions.empty());
  CHECK(timed.versions == std::vector<std::vector<int32_t>>{{5, 5, 6, 7}});
  CHECK(timed.version == 7);
  CHECK(timed.generate_s == 1.5);
  CHECK(timed.sync_s == 0.25);
  CHECK(timed.wait_s == 0.125);
}

TEST_CASE("weights travel in flat buckets and come back exactly", "[rl][rollout_link]") {
  auto a = test::load_tiny(test::tiny_models().front());
  auto b = test::load_tiny(test::tiny_models().front());
  {
    at::NoGradGuard ng;
    for (auto& [name, t] : b->named_parameters(true)) t.add_(1.0);
  }
  // Small buckets: several parameters per bucket and parameters larger than one.
  const auto buckets = rl::pack_weights(*a, 4096);
  REQUIRE(buckets.size() > 2);
  const auto sizes = rl::bucket_sizes(*a, 4096);
  REQUIRE(sizes.size() == buckets.size());
  for (size_t i = 0; i < sizes.size(); ++i) CHECK(buckets[i].numel() == sizes[i]);
  // unpack_weights reads the link's bucket size: pack with it.
  rl::unpack_weights(rl::pack_weights(*a, rl::kWeightBucketBytes), *b);
  auto pa = a->named_parameters(true), pb = b->named_parameters(true);
  REQUIRE(pa.size() == pb.size());
  for (size_t i = 0; i < pa.size(); ++i) CHECK(torch::equal(pa[i].second, pb[i].second));
}
