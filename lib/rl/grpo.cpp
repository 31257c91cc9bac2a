#include "rl/grpo.h"

#include <cmath>

#include "algo/logprobs.h"
#include "algo/ppo_losses.h"
#include "algo/reference.h"
#include "core/error.h"
#include "core/log.h"
#include "model/autocast.h"
#include "parallel/world.h"
#include "recipe/recipe.h"
#include "rl/rollout_queue.h"

namespace pt::rl {

using namespace pt::algo;  // the algorithm contract and the loss functions this stage drives

Grpo::Grpo(const GrpoOptions& opts, StageFactories make, std::string model_path, uint64_t seed)
    : o_(opts), make_(std::move(make)), model_path_(std::move(model_path)), seed_(seed) {
  params_.aggregation = o_.loss == GrpoLoss::Grpo     ? GrpoAggregation::Grpo
                        : o_.loss == GrpoLoss::Bnpo   ? GrpoAggregation::Bnpo
                        : o_.loss == GrpoLoss::DrGrpo ? GrpoAggregation::DrGrpo
                                                      : GrpoAggregation::Dapo;  // dapo, cispo (as TRL)
  params_.objective = o_.loss == GrpoLoss::Cispo ? PolicyObjective::Cispo : PolicyObjective::Clipped;
  params_.importance = o_.importance_sampling;
  params_.epsilon_low = o_.epsilon;
  params_.epsilon_high = o_.epsilon_high;
  params_.beta = o_.kl_in_reward ? 0.0 : o_.beta;  // in the reward, not the loss
  params_.dual_clip = o_.dual_clip;
}

void Grpo::setup(const Context& ctx) {
  Algorithm::setup(ctx);
  controller_ = std::make_unique<Controller>(o_, make_, seed_, *ctx.policy, ctx.tokenizer, ctx.autocast_bf16);
  if (o_.advantage == Advantage::Gae && !shared_value_head())
    critic_ = std::make_unique<Critic>(o_.critic, ctx, model_path_);
  if (shared_value_head()) {
    PT_CHECK(ctx.policy->has_value_head(), "ppo: critic.model is policy but the policy was built without a value head");
    log::info("ppo: the critic is a value head on the policy (value loss x {} in the policy's loss)", o_.critic.value_coef);
  }
  if (o_.beta == 0) log::info("grpo: beta = 0, no reference model");
  else setup_reference(ctx);
  // Every model the update runs must allow it.
  share_prompts_ = o_.share_prompt_prefix && prefix_sharing_exact(*ctx.policy, "policy") &&
                   (!critic_ || prefix_sharing_exact(critic_->model(), "critic")) &&
                   (!ref_ || prefix_sharing_exact(*ref_, "reference model"));
}

void Grpo::setup_reference(const Context& ctx) {
  ref_mode_ = resolve_reference(o_.reference, ctx.policy->has_adapters(), o_.reference_path, "algorithm.grpo");
  if (ref_mode_ == DpoReference::Model) {
    const std::string path = o_.reference_path.empty() ? model_path_ : o_.reference_path;
    ref_ = load_frozen(*ctx.policy, ctx.recipe->recipe.model, path, "reference model", true);
    log::info("grpo: KL reference = frozen copy of {}", path);
  } else {
    log::info("grpo: KL reference = the policy with its LoRA adapters switched off");
  }
}

// A prompt read once for its whole group gives every completion the prompt's keys and values as it
// would have computed them itself, unless they depend on the sequence's length: dynamic NTK RoPE
// rescales every position by the longest one. Such a model keeps one whole document per sequence.
bool Grpo::prefix_sharing_exact(const model::CausalLM& m, const char* role) {
  if (m.config().rope_scaling.type != "dynamic") return true;
  log::info("grpo: share_prompt_prefix off: the {}'s dynamic RoPE scales the prompt's positions by each "
            "sequence's length, so a shared prompt would not be exact; one whole document per sequence", role);
  return false;
}

at::Tensor Grpo::label_logprobs(model::CausalLM& m, const MicroBatch& mb) {
  return logprobs_of(m, mb, m.hidden_states(mb.input).index_select(0, labelled_positions(mb)));
}

at::Tensor Grpo::logprobs_of(model::CausalLM& m, const MicroBatch& mb, const at::Tensor& h) const {
  // Log-probs at the sampling temperature (logits / T), as the rollout's were taken.
  at::Tensor labels = mb.labels.index_select(0, labelled_positions(mb));
  return chunked_logprobs(h / o_.temperature, m.lm_head_weight(), labels, m.vocab_size(), ctx_.ce_chunk, vocab_shard_of(m));
}

bool Grpo::shared_value_head() const {
  return o_.advantage == Advantage::Gae && o_.critic.model == CriticModel::Policy;
}

at::Tensor Grpo::values(const MicroBatch& mb) {
  if (critic_) return critic_->values(mb).to(at::kFloat);
  model::CausalLM& m = *ctx_.policy;
  return m.value_head(m.hidden_states(mb.input).index_select(0, labelled_positions(mb)));
}

PromptBatch prompt_batch(const data::StepBatch& batch) {
  PromptBatch pb;
  for (const auto& row : batch.rows) {
    if (row.doc_lens.empty() || row.doc_source[0] < 0) continue;
    pb.prompts.emplace_back(row.input_ids.begin(), row.input_ids.begin() + row.doc_lens[0]);
    pb.records.push_back(row.meta.empty() ? nlohmann::json::object() : row.meta[0]);
    pb.global_index.push_back(row.index);
  }
  return pb;
}

Prepared Grpo::prepare(data::StepBatch& batch, bool training) {
  Prepared prep;
  prep.training = training;
  prep.global_rows = batch.global_rows;
  const auto& world = *ctx_.world;
  // Stage 1: prompts (one per row). Stages 2-5: rollouts, rewards, advantages, selection.
  const PromptBatch pb = prompt_batch(batch);
  Rollouts r = rollouts(batch, pb, training);
  controller_->score(pb, r);
  // REINFORCE++ whitens over the whole step's completion tokens: its moments are summed over ranks.
  const bool global = training && world.size() > 1;
  controller_->advantages(r, [&](std::vector<double> v) { return global ? world.allreduce_sum(v) : v; });
  if (training) controller_->select(r);
  const int world_size = training ? world.size() : 1;
  const double global_completions = static_cast<double>(std::max<int64_t>(1, batch.global_rows) * r.group_size);
  auto sums = controller_->metrics(r);
  for (auto& [k, v] : sums.per_completion)
    prep.metrics.push_back({k, at::scalar_tensor(v, at::kDouble), training ? global_completions : static_cast<double>(r.completions.size())});
  for (auto& [k, v] : sums.per_step) prep.metrics.push_back({k, at::scalar_tensor(v, at::kDouble), static_cast<double>(world_size)});
  if (!training) return prep;
  agreement_metrics(r, prep);

  // Stage 6: the selected completions as training sequences, in `mini_batches` slices x `epochs`.
  std::vector<size_t> kept;
  const bool gae = o_.advantage == Advantage::Gae;
  // Per-token returns: GAE, the KL in the reward, and REINFORCE++ on episodes whose environment
  // rewards sit at the turns that earned them (single-turn, the sequence-level path is the same).
  const bool token_level = gae || o_.kl_in_reward || (controller_->multi_turn() && o_.advantage == Advantage::ReinforcePP);
  for (size_t i = 0; i < r.completions.size(); ++i)
    // Per-token returns (gae, KL in the reward) have no value for an unscored completion: left out.
    if (r.keep[i] && !(token_level && std::isnan(r.rewards[i])))
      kept.push_back(i);
  const int slices = o_.mini_batches, updates = o_.mini_batches * o_.epochs;
  const auto slice_seqs = split_even(kept, slices);
  // Global sequences and completion tokens per slice: the loss denominators of each update.
  std::vector<double> counts(2 * slices, 0);
  for (int s = 0; s < slices; ++s)
    for (size_t i : slice_seqs[s]) {
      counts[2 * s] += 1;
      counts[2 * s + 1] += static_cast<double>(gen::sampled_tokens(r.completions[i]));
    }
  if (world.size() > 1) counts = world.allreduce_sum(counts);
  Built built = build_slices(slice_seqs, counts, pb, r, prep);
  prep.global_tokens = batch.global_tokens;
  if (token_level) token_advantages(built, r, prep);
  if (gae) value_metrics(built, counts, prep);
  if (critic_) {
    train_critic(built, counts, updates, prep);
    if (static_cast<int64_t>(batch.step) < o_.critic.warmup_steps) {
      prep.update_starts.clear();  // critic warm-up: the policy waits until the values mean something
      return prep;
    }
  }
  lay_out_updates(built, updates, prep);
  return prep;
}

Grpo::Built Grpo::build_slices(const std::vector<std::vector<size_t>>& slice_seqs, const std::vector<double>& counts,
                               const PromptBatch& pb, const Rollouts& r, Prepared& prep) {
  // Each slice's micro-batches (and its reference pass) are built once and reused by every epoch.
  const size_t slices = slice_seqs.size();
  Built built(slices);
  const bool correcting = o_.rollout_correction.mode != CorrectionMode::None;
  std::vector<double> correction_sums(5, 0.0);
  for (size_t s = 0; s < slices; ++s) {
    const double den = aggregate_denominator(params_.aggregation, counts[2 * s], counts[2 * s + 1], o_.max_new_tokens);
    const auto lengths = completion_costs(sequences(slice_seqs[s], pb, r), share_prompts_);
    for (const auto& members : group_by_budget(lengths, micro_budget(ctx_))) {
      std::vector<size_t> group;
      for (size_t j : members) group.push_back(slice_seqs[s][j]);
      built[s].push_back(build_sequences(group, pb, r, den, std::max(1.0, counts[2 * s + 1])));
      if (correcting) correct(built[s].back().first, built[s].back().second, correction_sums);
    }
  }
  if (correcting) correction_metrics(correction_sums, prep);
  return built;
}

void Grpo::lay_out_updates(const Built& built, int updates, Prepared& prep) const {
  // Update u trains slice u % slices; update 0 runs on the rollout's own weights (logprob_mismatch).
  auto step = std::make_shared<Step>();
  prep.update_starts.clear();
  for (int u = 0; u < updates; ++u) {
    prep.update_starts.push_back(prep.micro.size());
    for (const auto& [mb, sd] : built[static_cast<size_t>(u) % built.size()]) {
      prep.micro.push_back(mb);
      step->side.push_back(sd);
      step->side.back().first_update = u == 0;
    }
  }
  prep.step_data = std::move(step);
}

std::pair<MicroBatch, Grpo::Side> Grpo::build_sequences(const std::vector<size_t>& group, const PromptBatch& pb,
                                                         const Rollouts& r, double den, double update_tokens) {
  int64_t T = 0;
  for (size_t i : group) T = std::max<int64_t>(T, gen::sampled_tokens(r.completions[i]));
  MicroBatch mb = completion_micro_batch(sequences(group, pb, r), share_prompts_, ctx_.device);
  Side sd;
  sd.seqs = static_cast<int64_t>(group.size());
  sd.T = T;
  sd.den = den;
  sd.update_tokens = update_tokens;
  sd.comp = group;
  std::vector<int64_t> pad;
  std::vector<double> adv, reward;
  std::vector<float> old_pad(static_cast<size_t>(sd.seqs * T), 0.f), mask(static_cast<size_t>(sd.seqs * T), 0.f);
  // Environment rewards at the turns that earned them (the token-level estimators' credit).
  const bool per_turn = !r.prompts.empty();
  std::vector<float> placed(per_turn ? static_cast<size_t>(sd.seqs * T) : 0, 0.f);
  const at::Tensor advantages = r.advantages.contiguous();
  const double* adv_of = advantages.data_ptr<double>();
  for (size_t j = 0; j < group.size(); ++j) {
    const auto& c = r.completions[group[j]];
    // The sampled tokens, in order, take the padded layout's columns (the labelled positions' order).
    int64_t col = 0;
    for (size_t t = 0; t < c.tokens.size(); ++t) {
      if (!c.sampled.empty() && !c.sampled[t]) continue;
      const int64_t at = static_cast<int64_t>(j) * T + col++;
      pad.push_back(at);
      old_pad[static_cast<size_t>(at)] = static_cast<float>(c.logprobs[t]);
      mask[static_cast<size_t>(at)] = 1.f;
    }
    adv.push_back(adv_of[group[j]]);
    reward.push_back(r.rewards[group[j]]);
    if (per_turn) {
      const auto row = per_token_rewards(r.rewards[group[j]], r.episodes[group[j]].turn_rewards, col);
      for (int64_t t = 0; t < col; ++t) placed[static_cast<size_t>(static_cast<int64_t>(j) * T + t)] = static_cast<float>(row[static_cast<size_t>(t)]);
    }
  }
  auto fopts = at::TensorOptions().dtype(at::kFloat);
  sd.pad_index = at::tensor(pad, at::TensorOptions().dtype(at::kLong)).to(ctx_.device);
  sd.old_lp = at::tensor(old_pad, fopts).view({sd.seqs, T}).to(ctx_.device);
  sd.behaviour_lp = sd.old_lp;
  sd.mask = at::tensor(mask, fopts).view({sd.seqs, T}).to(ctx_.device);
  sd.adv = at::tensor(adv, at::TensorOptions().dtype(at::kDouble)).to(at::kFloat).to(ctx_.device);
  sd.reward = at::tensor(reward, at::TensorOptions().dtype(at::kDouble)).to(at::kFloat).to(ctx_.device);
  if (per_turn) sd.token_reward = at::tensor(placed, fopts).view({sd.seqs, T}).to(ctx_.device);
  if (o_.beta != 0) {
    // Reference log-probs of the same packed layout, without gradients.
    at::NoGradGuard ng;
    at::Tensor lp;
    if (ref_) {
      lp = label_logprobs(*ref_, mb);
    } else {
      AdaptersOff off(*ctx_.policy);
      lp = label_logprobs(*ctx_.policy, mb);
    }
    sd.ref_lp = at::zeros({sd.seqs * T}, lp.options()).index_put_({sd.pad_index}, lp).view({sd.seqs, T});
  }
  return {std::move(mb), std::move(sd)};
}

std::vector<CompletionSeq> Grpo::sequences(const std::vector<size_t>& group, const PromptBatch& pb, const Rollouts& r) {
  std::vector<CompletionSeq> seqs;
  for (size_t i : group) {
    const auto& c = r.completions[i];
    // Only the policy's sampled tokens are labelled; an environment's are context.
    seqs.push_back({&r.prompt(pb, i), &c.tokens, &c.sampled});
  }
  return seqs;
}

at::Tensor Grpo::padded(const Side& sd, const at::Tensor& per_label) const {
  return at::zeros({sd.seqs * sd.T}, per_label.options()).index_put({sd.pad_index}, per_label).view({sd.seqs, sd.T});
}

void Grpo::token_advantages(Built& built, const Rollouts& r, Prepared& prep) {
  const bool gae_adv = o_.advantage == Advantage::Gae;
  const bool per_sequence = o_.advantage == Advantage::ReinforcePPBaseline;  // the group mean of summed rewards
  std::vector<double> seq_score(r.completions.size(), std::nan(""));
  TokenMoments local;
  double kl_sum = 0, kl_tokens = 0;
  {
    at::NoGradGuard ng;
    const model::AutocastScope ac(model::bf16_autocast(ctx_.device), ctx_.autocast_bf16);
    for (auto& slice : built)
      for (auto& [mb, sd] : slice) {
        at::Tensor rewards = sd.token_reward.defined() ? sd.token_reward : terminal_rewards(sd.reward, sd.mask);
        // k1 of the rollout policy against the reference, a penalty on every completion token.
        if (o_.kl_in_reward) {
          const at::Tensor k1 = (sd.old_lp - sd.ref_lp) * sd.mask;
          rewards = rewards - o_.beta * k1;
          kl_sum += k1.sum().item<double>();
          kl_tokens += sd.mask.sum().item<double>();
        }
        if (per_sequence) {
          const at::Tensor total = rewards.sum(1).to(at::kDouble).cpu();
          for (size_t j = 0; j < sd.comp.size(); ++j) seq_score[sd.comp[j]] = total[static_cast<int64_t>(j)].item<double>();
          continue;
        }
        const at::Tensor values = gae_adv ? padded(sd, this->values(mb)) * sd.mask : at::zeros_like(sd.mask);
        // Without a critic (REINFORCE++), gamma = lam = 1 and V = 0 make GAE the return to go.
        const Gae g = gae_adv ? gae(rewards, values, sd.mask, o_.gamma, o_.lam) : gae(rewards, values, sd.mask, 1.0, 1.0);
        sd.old_values = values;
        sd.adv = g.advantages;
        sd.returns = g.returns;
        const TokenMoments m = masked_moments(g.advantages, sd.mask);
        local.tokens += m.tokens, local.sum += m.sum, local.sum_sq += m.sum_sq;
      }
  }
  if (o_.kl_in_reward) {  // the k1 estimate the rewards were shaped with, per completion token of the step
    const double all = ctx_.world->size() > 1 ? ctx_.world->allreduce_sum(kl_tokens) : kl_tokens;
    prep.metrics.push_back({"kl", at::scalar_tensor(kl_sum, at::kDouble), std::max(1.0, all)});
  }
  auto global = [&](const TokenMoments& m) {
    std::vector<double> v{m.tokens, m.sum, m.sum_sq};
    if (ctx_.world->size() > 1) v = ctx_.world->allreduce_sum(v);
    return TokenMoments{v[0], v[1], v[2]};
  };
  if (per_sequence) {
    // REINFORCE++-baseline on the KL-shaped scores: group mean subtracted, whitened over the tokens.
    const at::Tensor scores = at::tensor(seq_score, at::TensorOptions().dtype(at::kDouble));
    std::vector<double> lens;
    for (const auto& c : r.completions) lens.push_back(static_cast<double>(gen::sampled_tokens(c)));
    const at::Tensor returns = reinforce_pp_returns(scores, r.group_size, true);
    const at::Tensor adv = whiten_by_tokens(returns, global(token_moments(returns, at::tensor(lens, at::TensorOptions().dtype(at::kDouble)))));
    const double* a = adv.contiguous().data_ptr<double>();
    for (auto& slice : built)
      for (auto& [mb, sd] : slice) {
        std::vector<double> v;
        for (size_t i : sd.comp) v.push_back(a[i]);
        sd.adv = at::tensor(v, at::TensorOptions().dtype(at::kDouble)).to(at::kFloat).to(ctx_.device);
      }
    return;
  }
  const TokenMoments total = global(local);
  for (auto& slice : built)
    for (auto& [mb, sd] : slice) sd.adv = whiten_by_tokens(sd.adv, total) * sd.mask;
}

void Grpo::train_critic(Built& built, const std::vector<double>& counts,
                        int updates, Prepared& prep) {
  const int slices = static_cast<int>(built.size());
  at::Tensor loss_sum = at::zeros({}, at::TensorOptions().dtype(at::kDouble).device(ctx_.device));
  at::Tensor clip_sum = loss_sum.clone();
  double grad_norm = 0;
  for (int u = 0; u < updates; ++u) {
    const auto& slice = built[u % slices];
    const double tokens = std::max(1.0, counts[2 * (u % slices) + 1]);
    critic_->zero_grad();
    for (size_t k = 0; k < slice.size(); ++k) {
      const auto& [mb, sd] = slice[k];
      at::Tensor v;
      {
        const model::AutocastScope ac(model::bf16_autocast(ctx_.device), ctx_.autocast_bf16);
        v = padded(sd, critic_->values(mb).to(at::kFloat));
      }
      const ValueLossTerms t = value_loss_terms(v, sd.old_values, sd.returns, sd.mask, o_.critic.value_clip);
      at::Tensor loss = t.per_token.sum() / tokens;
      critic_->begin_backward(k + 1 == slice.size());
      loss.backward();
      critic_->end_backward();
      loss_sum += loss.detach().to(at::kDouble);
      clip_sum += t.clipped.sum().to(at::kDouble) / tokens;
    }
    grad_norm += critic_->step();
  }
  const double ranks = static_cast<double>(ctx_.world->size());
  prep.metrics.push_back({"critic/value_loss", loss_sum, static_cast<double>(updates)});
  prep.metrics.push_back({"critic/clip_fraction", clip_sum, static_cast<double>(updates)});
  // The same norm on every rank (gradients are summed before clipping): averaged over ranks.
  prep.metrics.push_back({"critic/grad_norm", at::scalar_tensor(grad_norm / updates, at::kDouble), ranks});
}

// critic/values and critic/returns: the rollout-time values and their targets per completion token.
void Grpo::value_metrics(const Built& built, const std::vector<double>& counts, Prepared& prep) const {
  at::Tensor value_sum = at::zeros({}, at::TensorOptions().dtype(at::kDouble).device(ctx_.device));
  at::Tensor return_sum = value_sum.clone();
  for (const auto& slice : built)
    for (const auto& [mb, sd] : slice) {
      value_sum += (sd.old_values * sd.mask).sum().to(at::kDouble);
      return_sum += (sd.returns * sd.mask).sum().to(at::kDouble);
    }
  double all_tokens = 0;
  for (size_t s = 0; s < built.size(); ++s) all_tokens += counts[2 * s + 1];
  prep.metrics.push_back({"critic/values", value_sum, std::max(1.0, all_tokens)});
  prep.metrics.push_back({"critic/returns", return_sum, std::max(1.0, all_tokens)});
}

// rewards/MONITOR_agreement: the trained reward's pairwise agreement with each weight-0 reward over
// the step's groups (sums over ranks, so every rank logs the step's value); 0.5 is chance.
void Grpo::agreement_metrics(const Rollouts& r, Prepared& prep) const {
  const auto& world = *ctx_.world;
  for (auto& [label, ap] : controller_->monitor_agreement(r)) {
    std::vector<double> v{ap.first, ap.second};
    if (world.size() > 1) v = world.allreduce_sum(v);
    const double value = v[1] > 0 ? v[0] / v[1] : 0.5;  // no pair the monitor tells apart: no evidence either way
    prep.metrics.push_back({"rewards/" + label + "_agreement", at::scalar_tensor(value, at::kDouble),
                            static_cast<double>(world.size())});
  }
}

void Grpo::save_state(const std::string& dir) const {
  if (critic_) critic_->save_state(dir);
  // Batches generated ahead (max_staleness): drained and stored, as the resumed run will need them.
  if (o_.max_staleness > 0) RolloutQueue::get().save(dir);
}

void Grpo::load_state(const std::string& dir) {
  if (critic_) critic_->load_state(dir);
  if (o_.max_staleness > 0) RolloutQueue::get().load(dir);
}

std::vector<std::pair<std::string, model::CausalLM*>> Grpo::exports() {
  if (!critic_) return {};
  return {{"critic", &critic_->model()}};
}

LossOut Grpo::loss(const MicroBatch& mb, size_t index, const Prepared& prep) {
  const auto& side = prep.data<Step>().side;
  PT_CHECK(index < side.size(), "grpo: loss() for a micro-batch that prepare() did not build");
  const Side& sd = side[index];
  model::CausalLM& m = *ctx_.policy;
  // One forward: the value head (critic.model: policy) reads the same hidden states as the LM head.
  const at::Tensor h = m.hidden_states(mb.input).index_select(0, labelled_positions(mb));
  at::Tensor cur = padded(sd, logprobs_of(m, mb, h));
  auto terms = policy_loss_terms(cur, sd.old_lp, sd.ref_lp, sd.adv, sd.mask, params_, sd.is_weight);
  at::Tensor num = aggregate_numerator(terms, params_.aggregation);
  LossOut out;
  out.loss = num / sd.den;
  out.metrics.push_back({"loss", out.loss.detach(), 1.0});
  if (shared_value_head()) {
    // The value loss of this update's tokens, as the separate critic's (its share of the update).
    const ValueLossTerms v = value_loss_terms(padded(sd, m.value_head(h)), sd.old_values, sd.returns, sd.mask,
                                              o_.critic.value_clip);
    const at::Tensor value_loss = v.per_token.sum() / sd.update_tokens;
    out.loss = out.loss + o_.critic.value_coef * value_loss;
    out.metrics.push_back({"critic/value_loss", value_loss.detach(), 1.0});
    out.metrics.push_back({"critic/clip_fraction", v.clipped.sum().detach(), sd.update_tokens});
  }
  at::Tensor clipped = (terms.clipped * sd.mask).sum();
  out.metrics.push_back({"clip_fraction", clipped.detach(), sd.update_tokens});
  if (terms.kl.defined()) out.metrics.push_back({"kl", (terms.kl * sd.mask).sum().detach(), sd.update_tokens});
  if (sd.first_update)  // before any update of this batch: trainer/engine mismatch, and with stale weights their drift
    out.metrics.push_back({"logprob_mismatch", ((cur - sd.behaviour_lp).abs() * sd.mask).sum().detach(), sd.update_tokens});
  return out;
}

std::string chat_template_label(const recipe::Recipe& r) {
  const std::string& dir = r.tokenizer.path.empty() ? r.model.path : r.tokenizer.path;
  return fmt::format("'{}' of {}", r.tokenizer.chat_template.empty() ? "default" : r.tokenizer.chat_template, dir);
}

std::unique_ptr<Algorithm> make_grpo(const recipe::Recipe& r, StageFactories make) {
  make.template_label = chat_template_label(r);
  return std::make_unique<Grpo>(r.algorithm.grpo, std::move(make), r.model.path, static_cast<uint64_t>(r.run.seed));
}

}  // namespace pt::rl
