#pragma once
// GRPO and its family (Dr. GRPO, BNPO, DAPO, GSPO) on the loop's hooks: prepare() runs the RL
// controller's stages (rollouts on the live weights, rewards, group advantages, selection) and lays
// the selected completions out as packed micro-batches for one or more updates, with the rollout
// policy's log-probs (the importance-ratio denominators) and, when beta > 0, the reference's;
// loss() is the clipped policy loss from lib/algo/grpo_losses on those micro-batches.
#include <memory>

#include "algo/algorithm.h"
#include "algo/grpo_losses.h"
#include "algo/options.h"
#include "rl/controller.h"
#include "rl/critic.h"

namespace pt::rl {

class Grpo : public algo::Algorithm {
 public:
  Grpo(const algo::GrpoOptions& opts, StageFactories make, std::string model_path, uint64_t seed);
  void setup(const algo::Context& ctx) override;
  algo::Prepared prepare(data::StepBatch& batch, bool training) override;
  algo::LossOut loss(const algo::MicroBatch& mb, size_t index, const algo::Prepared& prep) override;
  void save_state(const std::string& dir) const override;
  void load_state(const std::string& dir) override;
  // Asynchronous rollouts (max_staleness K): the trainer shows the next K batches before each step.
  int lookahead() const override { return o_.max_staleness; }
  int updates_per_batch() const override { return o_.mini_batches * o_.epochs; }
  void look_ahead(std::vector<const data::StepBatch*> next) override { ahead_ = std::move(next); }
  std::vector<std::pair<std::string, model::CausalLM*>> exports() override;

 private:
  // Per micro-batch: its completions as a padded [S, T] layout over the labelled positions.
  struct Side {
    at::Tensor pad_index;  // [labels] -> s * T + t
    at::Tensor old_lp, ref_lp, mask, adv;  // [S, T], [S, T], [S, T], [S] ([S, T] under gae)
    at::Tensor behaviour_lp;               // [S, T] the sampling engine's log-probs (old_lp too, uncorrected)
    at::Tensor is_weight;                  // [S, T] the off-policy correction's weights (undefined: none)
    at::Tensor reward;                     // [S] the completions' rewards
    at::Tensor token_reward;               // [S, T] multi-turn: placed per turn (rl::per_token_rewards)
    std::vector<size_t> comp;              // the completions (indices into the rollouts), in order
    at::Tensor old_values, returns;        // [S, T] the critic's at rollout time, and its targets (gae)
    int64_t seqs = 0, T = 0;
    double den = 1, update_tokens = 1;
    bool first_update = false;
  };
  // A prepared step's sequences, per micro-batch.
  struct Step : algo::StepData {
    std::vector<Side> side;
  };
  // Each slice's micro-batches with their layouts.
  using Built = std::vector<std::vector<std::pair<algo::MicroBatch, Side>>>;
  // The kept completions of each slice as micro-batches (counts: global sequences and completion
  // tokens per slice, the loss denominators), with the off-policy correction's weights.
  Built build_slices(const std::vector<std::vector<size_t>>& slice_seqs, const std::vector<double>& counts,
                     const PromptBatch& pb, const Rollouts& r, algo::Prepared& prep);
  // The updates' micro-batches in order: `updates` passes over the slices.
  void lay_out_updates(const Built& built, int updates, algo::Prepared& prep) const;
  // One micro-batch of the completions `group` (indices into the rollouts) with their layout.
  std::pair<algo::MicroBatch, Side> build_sequences(const std::vector<size_t>& group, const PromptBatch& pb,
                                                    const Rollouts& r, double den, double update_tokens);
  // The completions `group` as sequences (prompt, completion, sampled mask) for a micro-batch.
  static std::vector<algo::CompletionSeq> sequences(const std::vector<size_t>& group, const PromptBatch& pb,
                                                    const Rollouts& r);
  static bool prefix_sharing_exact(const model::CausalLM& m, const char* role);
  void setup_reference(const algo::Context& ctx);  // beta > 0: the KL reference (frozen copy or adapters off)
  at::Tensor label_logprobs(model::CausalLM& m, const algo::MicroBatch& mb);
  // The log-probs of mb's labels from `h`, the hidden states at its labelled positions.
  at::Tensor logprobs_of(model::CausalLM& m, const algo::MicroBatch& mb, const at::Tensor& h) const;
  // PPO's critic is a value head on the policy (critic.model: policy), trained by loss().
  bool shared_value_head() const;
  // The critic's values at mb's labelled positions, fp32 (the separate critic or the policy's head).
  at::Tensor values(const algo::MicroBatch& mb);
  void value_metrics(const Built& built, const std::vector<double>& counts, algo::Prepared& prep) const;
  // This step's rollouts: generated now, or (max_staleness) collected from the rollout ranks after
  // handing them the batches up to K steps ahead with the current weights.
  Rollouts rollouts(const data::StepBatch& batch, const PromptBatch& pb, bool training);
  // The correction's weights of a built micro-batch, against the trainer's current log-probs; its
  // sums are added to `sums` (units, weight sum, sum of squares, masked, largest raw weight).
  void correct(const algo::MicroBatch& mb, Side& sd, std::vector<double>& sums);
  void correction_metrics(std::vector<double> sums, algo::Prepared& prep) const;
  void agreement_metrics(const Rollouts& r, algo::Prepared& prep) const;
  at::Tensor padded(const Side& sd, const at::Tensor& per_label) const;
  // Per-token advantages of every built sequence from per-token rewards (the outcome on the last
  // token, minus beta x k1 on each with kl_in_reward): GAE against the critic's values (PPO), the
  // return to go (REINFORCE++), or per sequence the group-baselined sum (REINFORCE++-baseline) —
  // whitened over the step's completion tokens on all ranks.
  void token_advantages(Built& built, const Rollouts& r, algo::Prepared& prep);
  // PPO with a separate critic: its updates over the same slices and epochs as the policy's.
  void train_critic(Built& built, const std::vector<double>& counts,
                    int updates, algo::Prepared& prep);

  algo::GrpoOptions o_;
  StageFactories make_;
  algo::PolicyLossParams params_;
  std::string model_path_;
  uint64_t seed_;
  algo::DpoReference ref_mode_ = algo::DpoReference::Model;
  std::unique_ptr<model::CausalLM> ref_;
  std::unique_ptr<Controller> controller_;
  std::unique_ptr<Critic> critic_;
  bool share_prompts_ = false;  // share_prompt_prefix, where every model of the update allows it
  std::vector<const data::StepBatch*> ahead_;
};

// A step's prompts (the first document of each row).
PromptBatch prompt_batch(const data::StepBatch& batch);

// How errors name the recipe's chat template: "'<name or default>' of <tokenizer dir>".
std::string chat_template_label(const recipe::Recipe& r);

// make: the reward functions' and environments' factories (the registry's); the template label is
// filled from the recipe.
std::unique_ptr<algo::Algorithm> make_grpo(const recipe::Recipe& r, StageFactories make);

}  // namespace pt::rl
