// The generation engine: greedy parity with transformers' generate() on every tiny architecture
// (32 prompts, one continuously batched stream with fewer slots than prompts), log-probs equal to a
// teacher-forced forward pass, seeded sampling independent of the batch, sampling distributions
// (chi-square), live weights, stop ids and length limits, a cache that does not fit refused, and
// the model's training mode as it was.
#include <catch2/catch.hpp>

#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>

#include "../model/model_fixtures.h"
#include "../temp_dir.h"
#include "generate/engine.h"

using namespace pt;

namespace {
std::vector<int32_t> prompt_of(int len, int seed, int vocab) {
  std::vector<int32_t> p;
  uint64_t x = static_cast<uint64_t>(seed) * 2654435761u + 1;
  for (int i = 0; i < len; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    p.push_back(static_cast<int32_t>(3 + (x >> 33) % static_cast<uint64_t>(vocab - 3)));
  }
  return p;
}
}  // namespace

TEST_CASE("greedy generation equals transformers generate() on every architecture", "[generate][parity][python]") {
  testing::TempDir dir;
  for (const auto& name : test::tiny_models()) {
    INFO("model " << name);
    const std::string ref = dir.path + "/" + name + ".json";
    const std::string cmd = std::string(PT_PYTHON) + " " + PT_SOURCE_DIR + "/tests/reference/hf_greedy.py " +
                            test::model_dir(name) + " " + ref + " 32 12 2>/dev/null";
    REQUIRE(std::system(cmd.c_str()) == 0);
    auto rows = nlohmann::json::parse(std::ifstream(ref));
    auto m = test::load_tiny(name);
    gen::EngineOptions eo;
    eo.max_batch = 8;  // 32 prompts through 8 slots: slots are reused as sequences finish
    gen::Engine engine(*m, nullptr, eo);
    std::vector<gen::Request> reqs;
    for (const auto& r : rows) {
      gen::Request q;
      q.prompt = r["prompt"].get<std::vector<int32_t>>();
      q.params.temperature = 0;
      q.params.max_new_tokens = 8 + static_cast<int>(reqs.size() % 5);  // finish at different steps
      reqs.push_back(q);
    }
    auto outs = engine.generate(reqs);
    int same = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
      auto want = rows[i]["completion"].get<std::vector<int32_t>>();
      want.resize(outs[i].tokens.size());
      same += outs[i].tokens == want;
      CHECK(outs[i].finish_reason == "length");
    }
    std::printf("greedy parity %-10s %d/%zu identical\n", name.c_str(), same, rows.size());
    CHECK(same == static_cast<int>(rows.size()));
  }
}

TEST_CASE("engine log-probs equal a teacher-forced forward pass", "[generate][logprobs]") {
  for (const auto& name : {std::string("qwen3"), std::string("llama")}) {
    auto m = test::load_tiny(name);
    gen::Engine engine(*m, nullptr, gen::EngineOptions{4, 0, 0});
    std::vector<gen::Request> reqs;
    for (int i = 0; i < 10; ++i) {
      gen::Request q;
      q.prompt = prompt_of(4 + 3 * i, i, 389);
      q.params.temperature = 1.0;
      q.params.seed = 100 + i;
      q.params.max_new_tokens = 10;
      reqs.push_back(q);
    }
    auto outs = engine.generate(reqs);
    double worst = 0;
    for (size_t i = 0; i < reqs.size(); ++i) {
      auto ref = gen::teacher_forced_logprobs(*m, reqs[i].prompt, outs[i].tokens);
      REQUIRE(ref.size() == outs[i].logprobs.size());
      for (size_t j = 0; j < ref.size(); ++j) worst = std::max(worst, std::abs(ref[j] - outs[i].logprobs[j]));
    }
    std::printf("engine vs teacher-forced log-probs %-6s max abs diff %.2e\n", name.c_str(), worst);
    CHECK(worst < 1e-5);
  }
}

TEST_CASE("a seeded completion is the same alone and inside a batch of 64", "[generate][sampling]") {
  auto m = test::load_tiny("qwen2");
  gen::SamplingParams p;
  p.temperature = 0.9;
  p.top_p = 0.95;
  p.seed = 7;
  p.max_new_tokens = 16;
  gen::Request mine{prompt_of(11, 99, 389), p};
  gen::Engine alone(*m, nullptr, gen::EngineOptions{64, 0, 0});
  auto a = alone.generate({mine});
  std::vector<gen::Request> batch;
  for (int i = 0; i < 64; ++i) {
    gen::Request q{prompt_of(3 + i % 29, i, 389), p};
    q.params.seed = 1000 + i;
    batch.push_back(q);
  }
  batch[37] = mine;
  auto b = alone.generate(batch);
  CHECK(a[0].tokens == b[37].tokens);
  // A different seed gives a different completion (the seed is used).
  batch[37].params.seed = 8;
  CHECK(alone.generate({batch[37]})[0].tokens != a[0].tokens);
}

TEST_CASE("the samples of one prompt share its prefill and draw what they would alone", "[generate][sampling][prefix]") {
  for (const auto& name : test::tiny_models()) {
    INFO("model " << name);
    auto m = test::load_tiny(name);
    gen::SamplingParams p;
    p.temperature = 1.0;
    p.max_new_tokens = 12;
    // 6 prompts x 5 samples through 8 slots: groups split across admission waves, and a prompt
    // repeated later (not next to its twin: prefilled again).
    std::vector<gen::Request> reqs;
    for (int g = 0; g < 7; ++g)
      for (int k = 0; k < 5; ++k) {
        gen::Request q{prompt_of(4 + g * 3, g % 6, 389), p};
        q.params.seed = 100 * g + k;
        reqs.push_back(q);
      }
    gen::EngineOptions shared{8, 0, 0}, alone{8, 0, 0};
    alone.share_prefix = false;
    const auto a = gen::Engine(*m, nullptr, shared).generate(reqs);
    const auto b = gen::Engine(*m, nullptr, alone).generate(reqs);
    double worst = 0;
    for (size_t i = 0; i < reqs.size(); ++i) {
      REQUIRE(a[i].tokens == b[i].tokens);
      for (size_t t = 0; t < a[i].logprobs.size(); ++t) worst = std::max(worst, std::abs(a[i].logprobs[t] - b[i].logprobs[t]));
    }
    CHECK(worst < 1e-5);
    // The same samples one at a time (each its own prefill): the same tokens.
    for (size_t i : {size_t{0}, size_t{7}, size_t{33}}) CHECK(gen::Engine(*m, nullptr, alone).generate({reqs[i]})[0].tokens == a[i].tokens);
  }
}

TEST_CASE("a completion generated in segments and resumed equals the uninterrupted one", "[generate][sampling][partial]") {
  for (const auto& name : test::tiny_models()) {
    INFO("model " << name);
    auto m = test::load_tiny(name);
    // 5 prompts x 3 samples, sampled (top-p) and greedy (whose twins share a resumed prefill), one with a
    // stop id; 8 slots.
    std::vector<gen::Request> reqs;
    for (int g = 0; g < 5; ++g)
      for (int k = 0; k < 3; ++k) {
        gen::Request q{prompt_of(4 + g * 2, g, 389), {}};
        q.params.temperature = g == 3 ? 0.0 : 1.0;
        q.params.top_p = g == 1 ? 0.9 : 1.0;
        q.params.seed = 10 * g + k;
        q.params.max_new_tokens = 13;
        reqs.push_back(q);
      }
    const gen::EngineOptions eo{8, 0, 0};
    // The last prompt's samples stop at the token its first sample drew 6th (inside the 2nd segment).
    const int32_t stop = gen::Engine(*m, nullptr, eo).generate({reqs[12]})[0].tokens[5];
    for (size_t i = 12; i < 15; ++i) reqs[i].params.stop_ids = {stop};
    const auto whole = gen::Engine(*m, nullptr, eo).generate(reqs);
    CHECK(whole[12].finish_reason == "stop");
    // Segments of 4 tokens: each call continues what the last one stopped.
    std::vector<gen::Completion> got(reqs.size());
    std::vector<size_t> open(reqs.size());
    for (size_t i = 0; i < reqs.size(); ++i) open[i] = i;
    int calls = 0;
    while (!open.empty()) {
      std::vector<gen::Request> seg;
      for (size_t i : open) {
        seg.push_back(reqs[i]);
        seg.back().resume = got[i];
        seg.back().segment_tokens = 4;
      }
      const auto out = gen::Engine(*m, nullptr, eo).generate(seg);
      std::vector<size_t> still;
      for (size_t j = 0; j < open.size(); ++j) {
        const size_t i = open[j];
        CHECK(out[j].tokens.size() - got[i].tokens.size() <= 4u);
        got[i] = out[j];
        if (got[i].finish_reason == "partial") still.push_back(i);
      }
      open = still;
      REQUIRE(++calls <= 4);
    }
    CHECK(calls == 4);  // ceil(13 / 4)
    double worst = 0;
    for (size_t i = 0; i < reqs.size(); ++i) {
      INFO("request " << i);
      REQUIRE(got[i].tokens == whole[i].tokens);
      CHECK(got[i].finish_reason == whole[i].finish_reason);
      REQUIRE(got[i].logprobs.size() == whole[i].logprobs.size());
      for (size_t t = 0; t < got[i].logprobs.size(); ++t)
        worst = std::max(worst, std::abs(got[i].logprobs[t] - whole[i].logprobs[t]));
    }
    CHECK(worst < 1e-5);  // a resumed token's logits come from a prefill pass, not a decode step
  }
  // A resume that is not a single-turn completion shorter than max_new_tokens is refused.
  auto m = test::load_tiny("qwen2");
  gen::Request q{prompt_of(5, 1, 389), {}};
  q.params.max_new_tokens = 3;
  q.resume.tokens = {5, 6, 7};
  q.resume.logprobs = {0, 0, 0};
  CHECK_THROWS_WITH(gen::Engine(*m, nullptr).generate({q}), Catch::Contains("resumes 3 tokens"));
  q.params.max_new_tokens = 8;  // long enough, but without the top-log-prob lists logprobs_top_k asks for
  q.params.logprobs_top_k = 2;
  CHECK_THROWS_WITH(gen::Engine(*m, nullptr).generate({q}), Catch::Contains("0 top-log-prob lists"));
  q.resume.top_logprobs.assign(3, {{5, -0.1}, {6, -2.0}});
  CHECK(gen::Engine(*m, nullptr).generate({q})[0].top_logprobs.size() > 3u);
}

TEST_CASE("sampled token frequencies match the analytic distributions (chi-square)", "[generate][sampling]") {
  auto m = test::load_tiny("qwen3");
  at::Tensor logits;
  {
    at::NoGradGuard ng;
    std::vector<int64_t> doc;
    for (int32_t t : prompt_of(9, 5, 389)) doc.push_back(t);
    logits = m->logits(model::PackedInput::from_documents({doc})).select(0, 8) * 8;  // sharpen: fewer, larger bins
  }
  struct Case {
    const char* name;
    gen::SamplingParams p;
  };
  std::vector<Case> cases(4);
  cases[0] = {"temperature 0.7", {}};
  cases[0].p.temperature = 0.7;
  cases[1] = {"top-k 5", {}};
  cases[1].p.top_k = 5;
  cases[2] = {"top-p 0.8", {}};
  cases[2].p.top_p = 0.8;
  cases[3] = {"min-p 0.05", {}};
  cases[3].p.min_p = 0.05;
  const int n = 20000;
  at::Tensor l = logits.to(at::kDouble);
  for (auto& c : cases) {
    INFO(c.name);
    // The analytic distribution, computed here independently of the sampler.
    at::Tensor pr = at::softmax(l / c.p.temperature, 0);
    if (c.p.top_k > 0) {
      auto kth = std::get<0>(pr.topk(c.p.top_k)).min();
      pr = pr.masked_fill(pr.lt(kth), 0);
    }
    if (c.p.top_p < 1) {
      auto [s, idx] = pr.sort(0, true);
      auto keep = (s.cumsum(0) - s).lt(c.p.top_p);
      pr = at::zeros_like(pr).index_put_({idx.masked_select(keep)}, s.masked_select(keep));
    }
    pr = pr / pr.sum();
    if (c.p.min_p > 0) pr = pr.masked_fill(pr.lt(c.p.min_p * pr.max()), 0);
    pr = pr / pr.sum();
    CHECK((pr - gen::sampling_probs(logits, c.p)).abs().max().item<double>() < 1e-12);
    std::vector<double> count(static_cast<size_t>(l.size(0)), 0);
    at::Generator g = at::make_generator<at::CPUGeneratorImpl>(42);
    for (int i = 0; i < n; ++i) ++count[static_cast<size_t>(gen::sample(logits, c.p, g).token)];
    double chi2 = 0, rest_obs = 0, rest_exp = 0;
    int bins = 0;
    for (int64_t t = 0; t < l.size(0); ++t) {
      const double e = pr[t].item<double>() * n;
      if (e == 0) {
        CHECK(count[static_cast<size_t>(t)] == 0);  // truncated tokens are never drawn
        continue;
      }
      if (e < 5) {
        rest_obs += count[static_cast<size_t>(t)];
        rest_exp += e;
        continue;
      }
      chi2 += std::pow(count[static_cast<size_t>(t)] - e, 2) / e;
      ++bins;
    }
    if (rest_exp > 0) {
      chi2 += std::pow(rest_obs - rest_exp, 2) / rest_exp;
      ++bins;
    }
    // 99.9% quantile of chi-square with df = bins - 1 (Wilson-Hilferty approximation).
    const double df = std::max(1, bins - 1), z = 3.09;
    const double crit = df * std::pow(1 - 2 / (9 * df) + z * std::sqrt(2 / (9 * df)), 3);
    std::printf("sampling %-16s bins %3d chi2 %8.2f critical(0.999) %8.2f\n", c.name, bins, chi2, crit);
    CHECK(bins >= 3);
    CHECK(chi2 < crit);
  }
}

TEST_CASE("the engine runs on live weights and honours stop ids and the cache limit", "[generate]") {
  auto m = test::load_tiny("qwen2");
  gen::Engine engine(*m, nullptr, gen::EngineOptions{4, 0, 0});
  gen::Request q{prompt_of(7, 3, 389), {}};
  q.params.temperature = 0;
  q.params.max_new_tokens = 6;
  auto before = engine.generate({q})[0];
  REQUIRE(before.tokens.size() == 6u);
  CHECK(before.finish_reason == "length");
  // Stop at the second generated token.
  q.params.stop_ids = {before.tokens[1]};
  auto stopped = engine.generate({q})[0];
  CHECK(stopped.tokens.size() <= 2u);
  CHECK(stopped.finish_reason == "stop");
  // Change the parameters in place (as an optimizer step does): the next generation sees them.
  q.params.stop_ids.clear();
  {
    at::NoGradGuard ng;
    for (auto& [n, p] : m->named_parameters(false))
      if (n.find("lm_head") != std::string::npos || n.find("embed_tokens") != std::string::npos) p.mul_(-1);
  }
  auto after = engine.generate({q})[0];
  CHECK(after.tokens != before.tokens);
  // A cache that cannot fit is refused before anything runs, with the size it needs.
  gen::Engine tight(*m, nullptr, gen::EngineOptions{4, 0, 1e-9});
  CHECK_THROWS_WITH(tight.generate({q}), Catch::Contains("needs") && Catch::Contains("max_cache_gb"));
  // Generation runs in evaluation mode and hands the model back in the mode it found.
  m->train(false);
  engine.generate({q});
  CHECK_FALSE(m->is_training());
  m->train(true);
  engine.generate({q});
  CHECK(m->is_training());
}

TEST_CASE("multi-turn: appended tokens continue the cached sequence, log-probs equal a teacher-forced pass", "[generate][multiturn]") {
  for (const auto& name : {std::string("qwen3"), std::string("llama")}) {
    auto m = test::load_tiny(name);
    // 6 sequences through 3 slots; each ends its turns at 5 tokens and gets 2..4 answers of 3 tokens.
    gen::Engine engine(*m, nullptr, gen::EngineOptions{3, 0, 0});
    std::vector<gen::Request> reqs;
    for (int i = 0; i < 6; ++i) {
      gen::Request q;
      q.prompt = prompt_of(4 + 2 * i, i, 389);
      q.params.temperature = 1.0;
      q.params.seed = 500 + i;
      q.params.max_new_tokens = 5;
      q.max_episode_tokens = 64;
      reqs.push_back(q);
    }
    std::vector<int> answered(reqs.size(), 0);
    gen::TurnHook hook = [&](const std::vector<gen::TurnEnd>& ended, const std::vector<gen::Completion>& out) {
      std::vector<std::optional<std::vector<int32_t>>> more;
      for (const auto& t : ended) {
        CHECK(out[t.request].tokens.size() - t.turn_start == 5);  // the turn's own length limit
        if (answered[t.request] < 2 + static_cast<int>(t.request % 3)) {
          ++answered[t.request];
          more.push_back(prompt_of(3, 77 + static_cast<int>(t.request), 389));
        } else {
          more.push_back(std::nullopt);
        }
      }
      return more;
    };
    auto outs = engine.generate(reqs, {}, hook);
    double worst = 0;
    for (size_t i = 0; i < reqs.size(); ++i) {
      const auto& c = outs[i];
      const int answers = 2 + static_cast<int>(i % 3);
      CHECK(c.turns == answers + 1);
      REQUIRE(c.tokens.size() == static_cast<size_t>(5 * (answers + 1) + 3 * answers));
      REQUIRE(c.sampled.size() == c.tokens.size());
      CHECK(gen::sampled_tokens(c) == 5 * (answers + 1));
      // The whole sequence teacher-forced: the sampled tokens' log-probs equal the cached continuation's.
      auto ref = gen::teacher_forced_logprobs(*m, reqs[i].prompt, c.tokens);
      for (size_t j = 0; j < ref.size(); ++j)
        if (c.sampled[j]) worst = std::max(worst, std::abs(ref[j] - c.logprobs[j]));
        else CHECK(c.logprobs[j] == 0.0);
    }
    std::printf("multi-turn engine vs teacher-forced log-probs %-6s max abs diff %.2e\n", name.c_str(), worst);
    CHECK(worst < 1e-5);
  }
}

TEST_CASE("multi-turn: an answer that leaves no room for another turn finishes the sequence", "[generate][multiturn]") {
  auto m = test::load_tiny("qwen2");
  gen::Engine engine(*m, nullptr, gen::EngineOptions{2, 0, 0});
  gen::Request q;
  q.prompt = prompt_of(6, 1, 389);
  q.params.temperature = 0;
  q.params.max_new_tokens = 4;
  q.max_episode_tokens = 12;  // 4 sampled + 4 appended + 4 sampled = 12: a second answer cannot fit
  int calls = 0;
  gen::TurnHook hook = [&](const std::vector<gen::TurnEnd>& ended, const std::vector<gen::Completion>&) {
    ++calls;
    return std::vector<std::optional<std::vector<int32_t>>>(ended.size(), prompt_of(4, 9, 389));
  };
  auto out = engine.generate({q}, {}, hook)[0];
  CHECK(calls == 2);
  CHECK(out.turns == 2);
  CHECK(out.tokens.size() == 12);
  CHECK(out.finish_reason == "context");
  // Without the hook: one turn, nothing appended, no mask (the single-turn path).
  auto plain = engine.generate({q})[0];
  CHECK(plain.turns == 1);
  CHECK(plain.sampled.empty());
  CHECK(std::vector<int32_t>(out.tokens.begin(), out.tokens.begin() + 4) == plain.tokens);
}
