#include "rl/controller.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "algo/grpo_losses.h"
#include "core/error.h"
#include "env/environment.h"
#include "data/rng.h"
#include "model/causal_lm.h"
#include "rl/rollout_queue.h"
#include "tokenizer/hf_tokenizer.h"

namespace pt::rl {

namespace {
double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

std::unique_ptr<EpisodeStage> make_episode_stage(const algo::EnvironmentOptions& opts, const StageFactories& make,
                                                 const model::CausalLM& policy, const tok::HfTokenizer* tokenizer) {
  env::ConversationSpec spec;
  spec.tok = tokenizer;
  spec.end_of_turn = end_of_turn_ids(policy.config().eos_token_id, tokenizer);
  spec.label = make.template_label;
  spec.keep_sampled = opts.on_template_rewrite == algo::TemplateRewrite::KeepSampled;
  return std::make_unique<EpisodeStage>(make.environment ? make.environment(opts) : env::make_single_turn(opts), opts,
                                        std::move(spec));
}

Controller::Controller(const algo::GrpoOptions& opts, const StageFactories& make, uint64_t seed,
                       model::CausalLM& policy, const tok::HfTokenizer* tokenizer, bool autocast_bf16)
    : o_(opts),
      seed_(seed),
      autocast_bf16_(autocast_bf16),
      policy_(policy),
      tok_(tokenizer),
      rewards_(opts.rewards, make.reward),
      stop_ids_(end_of_turn_ids(policy.config().eos_token_id, tokenizer)),
      episodes_(make_episode_stage(opts.environment, make, policy, tokenizer)) {}

gen::SamplingParams Controller::sampling(bool training, uint64_t seed) const {
  gen::SamplingParams p;
  p.temperature = training ? o_.temperature : 0.0;  // evaluation: greedy
  p.top_p = o_.top_p;
  p.top_k = o_.top_k;
  p.min_p = o_.min_p;
  p.max_new_tokens = o_.max_new_tokens;
  p.stop_ids = stop_ids_;
  p.seed = seed;
  return p;
}

RolloutPlan Controller::plan(const PromptBatch& batch, int64_t step, bool training) {
  RolloutPlan p;
  p.step = step;
  p.group_size = training ? o_.group_size : 1;
  const bool multi = multi_turn();
  p.remote = training && o_.rollout_ranks > 0;
  p.remote_episodes = p.remote && multi;
  for (size_t i = 0; i < batch.prompts.size(); ++i)
    for (int g = 0; g < p.group_size; ++g) {
      const uint64_t sample = batch.global_index[i] * 1024 + g;
      // A completion's seed depends on (run seed, step, prompt, sample) only: a resumed run draws the
      // same rollouts, whatever the batch composition. Its environment gets a seed of its own from it.
      const uint64_t seed = data::hash3(seed_, static_cast<uint64_t>(step), sample);
      EpisodeSpec spec;
      spec.record = batch.records[i];
      spec.data_prompt = batch.prompts[i];
      spec.id = (static_cast<uint64_t>(step) << 32) | (sample & 0xffffffffULL);
      spec.seed = data::hash3(seed, 0x656e76ULL, 0);
      spec.where = fmt::format("episode {} (step {}, prompt {}, sample {})", spec.id, step, batch.global_index[i], g);
      // (A single-turn episode opens with the data's prompt.)
      gen::Request q{p.remote ? batch.prompts[i] : episodes_->open(spec), sampling(training, seed)};
      if (multi) q.max_episode_tokens = o_.environment.max_episode_tokens;
      p.specs.push_back(std::move(spec));
      p.requests.push_back(std::move(q));
      p.prompt_of.push_back(i);
    }
  return p;
}

Rollouts Controller::finish(const RolloutPlan& p, std::vector<gen::Completion> completions,
                            std::vector<Episode> remote_episodes) {
  Rollouts r;
  r.group_size = p.group_size;
  r.prompt_of = p.prompt_of;
  r.completions = std::move(completions);
  r.step = r.version = p.step;
  r.remote = p.remote;
  if (p.remote_episodes) {
    r.episodes = std::move(remote_episodes);
  } else {
    if (p.remote)
      for (const auto& spec : p.specs) episodes_->open(spec);
    r.episodes = episodes_->finish(r.completions);
  }
  if (multi_turn())
    for (const auto& e : r.episodes) r.prompts.push_back(e.prompt);
  return r;
}

namespace {
void take_times(Rollouts& r, RemoteRollouts& out) {
  r.version = out.version;
  r.token_versions = std::move(out.versions);
  r.wait_s = out.wait_s;
  r.sync_s = out.sync_s;
  r.generate_s = out.generate_s;
}
}  // namespace

Rollouts Controller::rollout(const PromptBatch& batch, int64_t step, bool training) {
  const auto t0 = std::chrono::steady_clock::now();
  RolloutPlan p = plan(batch, step, training);
  Rollouts r;
  if (p.remote) {
    // The rollout ranks, with the current weights (and the environment, for multi-turn episodes).
    RemoteRollouts out = remote_generate(step, policy_, p.requests, p.remote_episodes ? p.specs : std::vector<EpisodeSpec>{});
    r = finish(p, std::move(out.completions), std::move(out.episodes));
    take_times(r, out);
  } else {
    gen::EngineOptions eo;
    eo.max_batch = o_.max_batch;
    eo.autocast_bf16 = autocast_bf16_;
    gen::Engine engine(policy_, tok_, eo);
    r = finish(p, engine.generate(p.requests, {}, episodes_->hook()), {});
  }
  r.rollout_s = since(t0);
  return r;
}

void Controller::submit(const PromptBatch& batch, int64_t step, int64_t version, bool send) {
  const RolloutPlan p = plan(batch, step, true);
  PT_CHECK(p.remote, "asynchronous rollouts need rollout ranks (algorithm.grpo.rollout_ranks)");
  RolloutQueue::get().submit(step, version, policy_, p.requests, p.remote_episodes ? p.specs : std::vector<EpisodeSpec>{},
                             send);
}

void Controller::dispatch(int64_t version) {
  RolloutQueue::get().dispatch(version, policy_, o_.partial_segment_tokens());
}

Rollouts Controller::collect(const PromptBatch& batch, int64_t step) {
  const auto t0 = std::chrono::steady_clock::now();
  const RolloutPlan p = plan(batch, step, true);
  RemoteRollouts out = RolloutQueue::get().collect(step);
  Rollouts r = finish(p, std::move(out.completions), std::move(out.episodes));
  take_times(r, out);
  r.rollout_s = since(t0);
  return r;
}

void Controller::score(const PromptBatch& batch, Rollouts& r) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<RewardSample> samples;
  for (size_t i = 0; i < r.completions.size(); ++i) {
    const auto& c = r.completions[i];
    RewardSample s;
    s.prompt = tok_ ? tok_->tokenizer().decode(r.prompt(batch, i), false) : std::string();
    s.completion = r.episodes[i].last_text;  // the episode's last turn (single-turn: the completion)
    s.completion_raw = multi_turn() ? r.episodes[i].last_raw : tok_ ? tok_->tokenizer().decode(c.tokens, false) : c.text;
    s.record = batch.records[r.prompt_of[i]];
    s.completion_tokens = gen::sampled_tokens(c);
    s.truncated = c.finish_reason == "length";
    samples.push_back(std::move(s));
  }
  r.scores = rewards_.score(samples);
  r.rewards = r.scores.total;
  if (multi_turn())
    for (size_t i = 0; i < r.rewards.size(); ++i) r.rewards[i] = episode_return(r.episodes[i], r.rewards[i]);
  if (o_.overlong_buffer > 0) {
    // DAPO's soft overlong punishment: linear in how far into the last `buffer` tokens it ran.
    const double start = o_.max_new_tokens - o_.overlong_buffer;
    for (size_t i = 0; i < r.rewards.size(); ++i) {
      const double over = static_cast<double>(gen::sampled_tokens(r.completions[i])) - start;
      if (over > 0 && !std::isnan(r.rewards[i])) r.rewards[i] -= o_.overlong_penalty * std::min(1.0, over / o_.overlong_buffer);
    }
  }
  r.reward_s = since(t0);
}

void Controller::advantages(Rollouts& r, const std::function<std::vector<double>(std::vector<double>)>& sum) const {
  at::Tensor rewards = at::tensor(r.rewards, at::TensorOptions().dtype(at::kDouble));
  if (r.group_size < 2) {
    r.advantages = at::zeros_like(rewards);  // evaluation: one completion per prompt, no baseline
    return;
  }
  switch (o_.advantage) {
    case algo::Advantage::Group: {
      const auto scale = o_.scale_rewards;
      r.advantages = algo::group_advantages(rewards, r.group_size, scale);
      return;
    }
    case algo::Advantage::Rloo: r.advantages = algo::rloo_advantages(rewards, r.group_size); return;
    case algo::Advantage::Gae:  // per token, from the critic's values: the algorithm's (rl/grpo.cpp)
      r.advantages = at::zeros_like(rewards);
      return;
    case algo::Advantage::ReinforcePP:
    case algo::Advantage::ReinforcePPBaseline: {
      std::vector<double> lens;
      for (const auto& c : r.completions) lens.push_back(static_cast<double>(gen::sampled_tokens(c)));
      const at::Tensor returns = algo::reinforce_pp_returns(rewards, r.group_size,
                                                            o_.advantage == algo::Advantage::ReinforcePPBaseline);
      const auto m = algo::token_moments(returns, at::tensor(lens, at::TensorOptions().dtype(at::kDouble)));
      const auto total = sum({m.tokens, m.sum, m.sum_sq});
      r.advantages = algo::whiten_by_tokens(returns, {total[0], total[1], total[2]});
      return;
    }
  }
}

void Controller::select(Rollouts& r) const {
  r.keep.assign(r.completions.size(), true);
  if (!o_.dynamic_sampling) return;
  for (size_t g = 0; g + r.group_size <= r.rewards.size(); g += r.group_size) {
    bool all_equal = true;
    for (int j = 1; j < r.group_size; ++j) {
      const double a = r.rewards[g], b = r.rewards[g + j];
      all_equal = all_equal && (a == b || (std::isnan(a) && std::isnan(b)));
    }
    if (all_equal)
      for (int j = 0; j < r.group_size; ++j) r.keep[g + j] = false;
  }
}

Controller::Sums Controller::metrics(const Rollouts& r) const {
  Sums s;
  double len = 0, truncated = 0, kept = 0, reward = 0, unscored = 0, max_len = 0;
  for (size_t i = 0; i < r.completions.size(); ++i) {
    const double n = static_cast<double>(gen::sampled_tokens(r.completions[i]));
    len += n;
    max_len = std::max(max_len, n);
    truncated += r.completions[i].finish_reason == "length";
    kept += r.keep.empty() || r.keep[i];
    if (std::isnan(r.rewards[i])) ++unscored;
    else reward += r.rewards[i];
  }
  s.per_completion = {{"reward", reward}, {"completion_length", len}, {"truncated_fraction", truncated},
                      {"unscored_fraction", unscored}};
  if (!r.keep.empty()) s.per_completion.emplace_back("selected_fraction", kept);
  const auto labels = rewards_.labels();
  for (size_t f = 0; f < labels.size(); ++f) {
    double sum = 0, sq = 0, n = 0;
    for (double v : r.scores.per_func[f])
      if (!std::isnan(v)) sum += v, sq += v * v, ++n;
    s.per_completion.emplace_back("rewards/" + labels[f], sum);
    // The std within this rank's batch (averaged over ranks).
    const double mean = n > 0 ? sum / n : 0;
    s.per_step.emplace_back("rewards/" + labels[f] + "_std", n > 1 ? std::sqrt(std::max(0.0, sq / n - mean * mean) * n / (n - 1)) : 0.0);
  }
  double tokens = len;
  s.per_step.emplace_back("completion_length_max", max_len);
  s.per_step.emplace_back("time/rollout_s", r.rollout_s);
  s.per_step.emplace_back("time/reward_s", r.reward_s);
  s.per_step.emplace_back("rollout_tokens_per_s", tokens / std::max(r.remote ? r.generate_s : r.rollout_s, 1e-9));
  if (r.remote) {
    // Rollout ranks: how stale the sampling weights were, and where the trainers' time went.
    s.per_step.emplace_back("staleness", static_cast<double>(r.step - r.version));
    if (!r.token_versions.empty()) {
      // Partial rollouts: later segments come from newer weights.
      double sum = 0, n = 0;
      for (const auto& v : r.token_versions)
        for (int32_t t : v) sum += static_cast<double>(r.step - t), ++n;
      s.per_step.emplace_back("staleness_token_mean", n > 0 ? sum / n : 0.0);
    }
    s.per_step.emplace_back("time/rollout_wait_s", r.wait_s);
    s.per_step.emplace_back("time/weight_sync_s", r.sync_s);
    s.per_step.emplace_back("time/generate_s", r.generate_s);
  }
  if (multi_turn()) episode_metrics(r, s);
  return s;
}

std::vector<std::pair<std::string, std::pair<double, double>>> Controller::monitor_agreement(const Rollouts& r) const {
  const auto& opts = rewards_.options();
  std::vector<std::pair<std::string, std::pair<double, double>>> out;
  // A monitor is compared with what trains: the weighted rewards, or the environment's return.
  const bool trained = rewards_.weighted() || multi_turn();
  for (size_t f = 0; trained && f < opts.size(); ++f)
    if (opts[f].weight == 0)
      out.emplace_back(rewards_.labels()[f], pairwise_agreement(r.rewards, r.scores.per_func[f], r.group_size));
  return out;
}

void Controller::episode_metrics(const Rollouts& r, Sums& s) const {
  const EpisodeTotals t = sum_episodes(r.episodes, r.completions);
  s.per_completion.emplace_back("episode/turns", t.turns);
  s.per_completion.emplace_back("episode/tool_calls_ok", t.tool_calls_ok);
  s.per_completion.emplace_back("episode/tool_calls_failed", t.tool_calls_failed);
  s.per_completion.emplace_back("episode/length", t.length);
  s.per_completion.emplace_back("rewards/environment", t.env_reward);
  for (size_t k = 0; k < t.stops.size(); ++k) s.per_completion.emplace_back("episode/stop_" + stop_reasons()[k], t.stops[k]);
  s.per_step.emplace_back("time/env_s", t.env_s);
}

}  // namespace pt::rl
