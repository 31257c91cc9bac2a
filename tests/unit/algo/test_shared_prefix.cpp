// RL update micro-batches with shared prompts (completion_micro_batch, share = true): a prompt read
// once for its whole family gives the same labels and, on every tiny architecture and attention
// backend, the same log-probs and parameter gradients as one whole document per completion.
#include <catch2/catch.hpp>

#include <cstdio>
#include <random>

#include "algo/algorithm.h"
#include "algo/logprobs.h"
#include "data/example.h"
#include "../model/model_fixtures.h"

using namespace pt;

namespace {
using Ids = std::vector<int32_t>;

Ids random_ids(int64_t n, int64_t vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> pick(3, vocab - 1);
  Ids out;
  for (int64_t i = 0; i < n; ++i) out.push_back(static_cast<int32_t>(pick(rng)));
  return out;
}

// Families of completions: prompt a (12 tokens, past mistral's window of 8) x 3, b x 1, c (1 token,
// too short to share) x 2, a again x 2 (a family of its own: not next to the first). One completion
// has environment tokens (untrained) in its middle, as a multi-turn episode's.
struct Fixture {
  std::vector<Ids> prompts, completions;
  std::vector<std::vector<uint8_t>> trained;
  std::vector<algo::CompletionSeq> seqs;
  explicit Fixture(int64_t vocab) {
    prompts = {random_ids(12, vocab, 1), random_ids(6, vocab, 2), random_ids(1, vocab, 3)};
    const std::vector<size_t> prompt_of{0, 0, 0, 1, 2, 2, 0, 0};
    for (size_t i = 0; i < prompt_of.size(); ++i) completions.push_back(random_ids(3 + 2 * (i % 4), vocab, 10 + i));
    trained.assign(prompt_of.size(), {});
    trained[1] = {1, 1, 0, 0, 1};
    for (size_t i = 0; i < prompt_of.size(); ++i) seqs.push_back({&prompts[prompt_of[i]], &completions[i], &trained[i]});
  }
};

at::Tensor label_logprobs(model::CausalLM& m, const algo::MicroBatch& mb) {
  auto idx = algo::labelled_positions(mb);
  auto h = m.hidden_states(mb.input).index_select(0, idx);
  return algo::chunked_logprobs(h, m.lm_head_weight(), mb.labels.index_select(0, idx), m.vocab_size(), 7);
}
}  // namespace

TEST_CASE("shared prompts: the layout keeps every label and reads each family's prompt once", "[shared_prefix]") {
  Fixture f(100);
  const auto plain = algo::completion_micro_batch(f.seqs, false, at::kCPU);
  const auto shared = algo::completion_micro_batch(f.seqs, true, at::kCPU);
  CHECK(plain.input.prefix_doc.empty());
  // Documents: [a less its last token], 3 completions, b's whole sequence, c's two, [a], 2 completions.
  CHECK(shared.input.prefix_doc == std::vector<int32_t>{-1, 0, 0, 0, -1, -1, -1, -1, 7, 7});
  CHECK(shared.num_docs == 10);
  CHECK(shared.num_trained == plain.num_trained);
  CHECK(shared.labels.index_select(0, algo::labelled_positions(shared))
            .equal(plain.labels.index_select(0, algo::labelled_positions(plain))));
  // Prompt tokens: 3 x 12 + 2 x 12 become (11 + 3) + (11 + 2); the others are as they were.
  CHECK(plain.num_tokens - shared.num_tokens == (36 - 14) + (24 - 13));
  // A family member's document continues its prompt's positions.
  const auto bounds = shared.input.boundaries();
  CHECK(shared.input.position_ids[bounds[2]].item<int64_t>() == 11);
  CHECK(shared.input.input_ids[bounds[2]].item<int64_t>() == f.prompts[0].back());
  const auto costs = algo::completion_costs(f.seqs, true), whole = algo::completion_costs(f.seqs, false);
  CHECK(costs[0] == whole[0]);
  CHECK(costs[1] == 1 + static_cast<int64_t>(f.completions[1].size()));
  CHECK(costs[5] == whole[5]);  // a 1-token prompt is never shared
}

TEST_CASE("shared prompts: log-probs and gradients equal the whole documents' on every architecture and backend",
          "[shared_prefix]") {
  for (const auto& name : test::tiny_models())
    for (auto backend : {model::AttentionBackend::Eager, model::AttentionBackend::Sdpa}) {
      auto m = test::load_tiny(name, backend);
      Fixture f(m->vocab_size());
      std::map<std::string, at::Tensor> grads[2];
      at::Tensor lp[2];
      for (int share = 0; share < 2; ++share) {
        const auto mb = algo::completion_micro_batch(f.seqs, share == 1, at::kCPU);
        for (auto& [n, p] : m->named_parameters()) p.mutable_grad() = at::Tensor();
        lp[share] = label_logprobs(*m, mb);
        // Per-token weights, as advantages: every position's gradient counts differently.
        (lp[share] * at::linspace(-1, 2, lp[share].size(0))).sum().backward();
        for (auto& [n, p] : m->named_parameters()) grads[share][n] = p.grad().clone();
      }
      const double dl = (lp[0] - lp[1]).abs().max().item<double>();
      double worst = 0;
      for (const auto& [n, g] : grads[0])
        worst = std::max(worst, (g - grads[1][n]).abs().max().item<double>() / std::max(g.abs().max().item<double>(), 1e-6));
      std::printf("shared prompts %-10s %-5s log-probs max_abs=%.3g grads max_rel=%.3g\n", name.c_str(),
                  backend == model::AttentionBackend::Eager ? "eager" : "sdpa", dl, worst);
      CHECK(dl <= 1e-5);
      CHECK(worst <= 1e-4);
    }
}
