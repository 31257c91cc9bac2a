#pragma once
// The RL controller: the stages of on-policy RL as functions that read top to bottom —
//   prompts -> rollout (episodes: the generation engine on the policy's live weights, turn by turn
//   with the environment, rl/episodes.h) -> score (rewards) -> advantages (group-relative)
//   -> select (dynamic sampling) -> the policy update (the trainer).
// Single-turn GRPO is the one-turn episode of the single_turn environment.
// — each stage timed and reported. Reference log-probs for the KL term are taken while the update's
// micro-batches are built (lib/rl/grpo.cpp), on the same packed layout the policy uses.
// Roles are colocated (the policy generates, is scored and is updated on the same ranks) unless
// algorithm.grpo.rollout_ranks moves generation to ranks of its own (rl/rollout_link.h); evaluation
// rollouts stay on the training ranks.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "algo/options.h"
#include "env/environment.h"
#include "generate/engine.h"
#include "rl/episodes.h"
#include "rl/rewards.h"

namespace pt::tok {
class HfTokenizer;
}

namespace pt::rl {

struct PromptBatch {
  std::vector<std::vector<int32_t>> prompts;
  std::vector<nlohmann::json> records;
  std::vector<uint64_t> global_index;  // the prompt's position in the step over all ranks (seeds)
};

struct Rollouts {
  int group_size = 1;
  std::vector<size_t> prompt_of;  // per completion
  std::vector<gen::Completion> completions;
  std::vector<Episode> episodes;                 // per completion
  std::vector<std::vector<int32_t>> prompts;     // per completion when the environment opened it; else empty
  // A completion's prompt tokens.
  const std::vector<int32_t>& prompt(const PromptBatch& b, size_t i) const {
    return prompts.empty() ? b.prompts[prompt_of[i]] : prompts[i];
  }
  RewardSet::Scores scores;
  std::vector<double> rewards;  // after the overlong punishment
  at::Tensor advantages;        // [completions] fp64
  std::vector<bool> keep;       // selected for the update
  double rollout_s = 0, reward_s = 0;
  // The weights that sampled every completion: those of rollout batch `version` (this step's own
  // unless rollouts run max_staleness steps ahead); staleness = step - version.
  int64_t step = 0, version = 0;
  // Partial rollouts: per completion, the version that sampled each token (empty: all `version`).
  std::vector<std::vector<int32_t>> token_versions;
  double wait_s = 0, sync_s = 0, generate_s = 0;  // rollout ranks: waiting for them, weight broadcast, generation
  bool remote = false;
};

// A rollout batch's requests before generation: per completion its request and episode spec.
struct RolloutPlan {
  int64_t step = 0;
  int group_size = 1;
  bool remote = false, remote_episodes = false;
  std::vector<size_t> prompt_of;
  std::vector<gen::Request> requests;
  std::vector<EpisodeSpec> specs;
};

// What the controller's stages are built from, handed in so the RL layer does not depend on the registry.
struct StageFactories {
  RewardFactory reward;                  // the recipe's reward functions (registry::make_reward)
  env::EnvironmentFactory environment;   // the episodes' environment (registry::make_environment); null = single_turn
  std::string template_label = "(the tokenizer's default)";  // the chat template, as errors name it
};

// The episode stage of a recipe's environment (on the training ranks, or on a rollout worker).
std::unique_ptr<EpisodeStage> make_episode_stage(const algo::EnvironmentOptions& opts, const StageFactories& make,
                                                 const model::CausalLM& policy, const tok::HfTokenizer* tokenizer);

class Controller {
 public:
  // autocast_bf16: rollouts decode under bf16 autocast, as the trainer's forward passes run.
  Controller(const algo::GrpoOptions& opts, const StageFactories& make, uint64_t seed, model::CausalLM& policy,
             const tok::HfTokenizer* tokenizer, bool autocast_bf16 = false);
  // training false: evaluation — one greedy completion per prompt, scored, nothing selected.
  // Training with rollout_ranks runs on the rollout ranks with this step's weights (submit + collect).
  Rollouts rollout(const PromptBatch& batch, int64_t step, bool training);
  // Asynchronous rollouts (rollout_ranks): a step's batch handed to the rollout ranks with the current
  // weights, whose version is `version`; collected later, in step order, with the same batch.
  // send false (partial rollouts): the batch waits for dispatch(), which continues the unfinished
  // completions of every batch in flight and starts the new ones, in segments of
  // ceil(max_new_tokens / max_staleness) tokens.
  void submit(const PromptBatch& batch, int64_t step, int64_t version, bool send = true);
  void dispatch(int64_t version);
  Rollouts collect(const PromptBatch& batch, int64_t step);
  void score(const PromptBatch& batch, Rollouts& r);
  // `sum`: adds a vector over the ranks that share the step (identity on one rank or in evaluation),
  // for the estimators whose statistics span the whole batch.
  void advantages(Rollouts& r, const std::function<std::vector<double>(std::vector<double>)>& sum) const;
  void select(Rollouts& r) const;
  // Stage metrics as sums over this rank's completions (the caller divides by global counts).
  struct Sums {
    std::vector<std::pair<std::string, double>> per_completion;  // divided by the global completion count
    std::vector<std::pair<std::string, double>> per_step;        // divided by the number of ranks
  };
  Sums metrics(const Rollouts& r) const;
  // Per weight-0 reward (a monitor) beside weighted ones: pairwise_agreement of the trained reward
  // with it over this rank's groups, {label, {agreeing, pairs}} (ranks sum them).
  std::vector<std::pair<std::string, std::pair<double, double>>> monitor_agreement(const Rollouts& r) const;
  bool multi_turn() const { return !episodes_->single_turn(); }
  int64_t unscored_batches() const { return rewards_.skipped(); }

 private:
  algo::GrpoOptions o_;
  uint64_t seed_;
  bool autocast_bf16_;
  model::CausalLM& policy_;
  const tok::HfTokenizer* tok_;
  RewardSet rewards_;
  std::vector<int32_t> stop_ids_;
  std::unique_ptr<EpisodeStage> episodes_;
  // A completion's sampling: the recipe's at training time, greedy in evaluation.
  gen::SamplingParams sampling(bool training, uint64_t seed) const;
  // The batch's requests (colocated episodes open here; remote ones open on the worker, and
  // single-turn ones, which need no environment between turns, when their completions are back).
  RolloutPlan plan(const PromptBatch& batch, int64_t step, bool training);
  Rollouts finish(const RolloutPlan& p, std::vector<gen::Completion> completions, std::vector<Episode> remote_episodes);
  // Per-episode sums of the multi-turn stage (turns, tool calls, stop reasons).
  void episode_metrics(const Rollouts& r, Sums& s) const;
};

}  // namespace pt::rl
