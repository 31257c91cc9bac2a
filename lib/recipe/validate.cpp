// Cross-field rules that no single field's range can express. Each error names the keys involved
// and where they were set.
#include <algorithm>
#include <set>

#include "recipe/environment_checks.h"
#include "recipe/recipe.h"
#include "tokenizer/regex.h"
#include "train/geometry.h"

#include <functional>

namespace pt::recipe {

namespace {
// `source` is the merged input tree, whose nodes remember the file:line that set them.
// A key path's location; an all-digit key indexes a list (data.sources[1].format).
Location where(const Node& source, const std::vector<std::string>& keys) {
  std::string path;
  const Node* n = &source;
  Location loc;
  for (const std::string& k : keys) {
    const bool index = !k.empty() && k.find_first_not_of("0123456789") == std::string::npos;
    if (index) {
      const size_t i = std::stoul(k);
      path += "[" + k + "]";
      n = n && n->is_seq() && i < n->seq.size() ? &n->seq[i] : nullptr;
    } else {
      path = join_key(path, k);
      n = n && n->is_map() ? n->find(k) : nullptr;
    }
    if (n) loc = n->loc;
  }
  loc.key = path;
  return loc;
}
using Refuse = std::function<void(std::initializer_list<std::string>, const std::string&)>;

// algorithm.grpo.max_staleness and rollout_correction.
void check_async(const algo::GrpoOptions& g, const Refuse& refuse) {
  if (g.max_staleness > 0 && g.rollout_ranks == 0)
    refuse({"algorithm", "grpo", "max_staleness"},
           fmt::format("max_staleness {} overlaps generation with training, which needs ranks that only generate: "
                       "set algorithm.grpo.rollout_ranks: 1 and launch with one rank more (mpirun -np 2 posttrain run "
                       "RECIPE for one training rank); colocated rollouts cannot overlap the update on the same device",
                       g.max_staleness));
  if (g.partial_rollouts && g.max_staleness < 2)
    refuse({"algorithm", "grpo", "partial_rollouts"},
           fmt::format("partial rollouts spread a completion over the steps it is generated ahead: with max_staleness "
                       "{} every batch must be whole by the next step, so there is nothing to split (set "
                       "max_staleness: 2 or more)", g.max_staleness));
  if (g.partial_rollouts && g.environment.name != "single_turn")
    refuse({"algorithm", "grpo", "partial_rollouts"},
           fmt::format("partial rollouts continue single-turn completions; environment '{}' runs multi-turn "
                       "episodes, whose environment state lives on the rollout worker between turns (use "
                       "max_staleness without partial_rollouts)", g.environment.name));
  const algo::RolloutCorrectionOptions d, &c = g.rollout_correction;
  if (c.mode == algo::CorrectionMode::None && (c.clip_min != d.clip_min || c.clip_max != d.clip_max))
    refuse({"algorithm", "grpo", "rollout_correction", c.clip_min != d.clip_min ? "clip_min" : "clip_max"},
           "the weight bounds apply to a correction mode; mode is none (set token_truncate, token_mask, "
           "sequence_truncate or sequence_mask)");
  if (c.clip_min >= c.clip_max)
    refuse({"algorithm", "grpo", "rollout_correction", "clip_min"},
           fmt::format("clip_min {} is not below clip_max {}", c.clip_min, c.clip_max));
}

// trainer.eval and the held-out data: each option only where an evaluation reads it.
void check_eval(const Recipe& r, const Refuse& refuse) {
  const data::DataOptions dd;
  const train::EvalOptions de;
  const auto& d = r.data;
  const auto& ev = r.trainer.eval;
  if (!d.eval_sources.empty() && d.eval_fraction != dd.eval_fraction)
    refuse({"data", "eval_fraction"}, "eval_fraction holds out part of the training sources; data.eval_sources is "
                                      "the held-out set (the training sources are then all trained on)");
  const bool held_out = !d.eval_sources.empty() || d.eval_fraction > 0;
  if (!held_out && d.max_eval_records != dd.max_eval_records)
    refuse({"data", "max_eval_records"}, "max_eval_records caps the held-out records; there are none (set "
                                         "data.eval_fraction > 0 or data.eval_sources)");
  if (!held_out && ev.tasks.empty())
    for (auto [key, set] : {std::pair<const char*, bool>{"every", ev.every != de.every}, {"generate", ev.generate}})
      if (set)
        refuse({"trainer", "eval", key}, fmt::format("trainer.eval.{} needs something to evaluate: there is no held-out "
                                                     "data (data.eval_fraction is 0, no data.eval_sources) and no "
                                                     "trainer.eval.tasks", key));
  if (!held_out && ev.max_batches != de.max_batches)
    refuse({"trainer", "eval", "max_batches"}, "max_batches limits the held-out batches; there is no held-out data "
                                               "(trainer.eval.tasks run whole)");
  // eval.generate answers held-out records that have a prompt and an answer.
  const auto& srcs = d.eval_sources.empty() ? d.sources : d.eval_sources;
  const bool answers = std::any_of(srcs.begin(), srcs.end(),
                                  [](const data::SourceOptions& s) { return data::has_prompt_and_answer(s.format); });
  if (held_out && ev.generate && !answers)
    refuse({"trainer", "eval", "generate"},
           "eval.generate greedy-generates the answers of held-out records; none of the held-out sources has a "
           "prompt and an answer (formats chat, prompt_completion, preference, unpaired)");
}

// PPO's critic: a separate model's settings, or the value head's on the policy (critic.model).
template <class Refuse>
void check_critic(const Recipe& r, const Refuse& refuse) {
  const algo::CriticOptions d, &c = r.algorithm.grpo.critic;
  if (c.model == algo::CriticModel::Separate) {
    if (c.value_coef != d.value_coef)
      refuse({"algorithm", "grpo", "critic", "value_coef"}, "value_coef weighs the value loss in the policy's loss "
                                                            "when the value head is on the policy; critic.model is "
                                                            "separate (the critic has its own loss and optimizer)");
    return;
  }
  for (auto [key, set] : {std::pair<const char*, bool>{"path", !c.path.empty()},
                          {"lr", c.lr != d.lr},
                          {"lr_warmup_steps", c.lr_warmup_steps != d.lr_warmup_steps},
                          {"max_grad_norm", c.max_grad_norm != d.max_grad_norm}})
    if (set)
      refuse({"algorithm", "grpo", "critic", key},
             fmt::format("critic.{} is the separate critic model's; critic.model is policy: the value head trains with "
                         "the policy's optimizer, schedule and trainer.max_grad_norm (and loads from the policy's "
                         "directory: its value_head.safetensors, when there is one)", key));
  if (c.warmup_steps != d.warmup_steps)
    refuse({"algorithm", "grpo", "critic", "warmup_steps"},
           "critic.warmup_steps trains the critic while the policy waits; critic.model is policy, whose value head "
           "shares the policy's weights, so it cannot train without moving the policy (use critic.model: separate)");
  if (r.model.lora)
    refuse({"algorithm", "grpo", "critic", "model"}, "critic.model policy trains the value head and the policy's "
                                                     "shared layers together; model.lora freezes them (use "
                                                     "critic.model: separate with LoRA)");
}

// Options that only some modes read: a value other than the default under a mode that ignores it is
// refused (a recipe key is honoured or refused, never accepted and ignored). Compared with the
// defaults, not with what the file spelled, so a run directory's fully resolved recipe passes.
// Long on purpose: a flat table of (option, the mode that ignores it) refusals, one per line.
void check_applicable(const Recipe& r, const Node& source) {
  auto refuse = [&](std::initializer_list<std::string> keys, const std::string& why) {
    fail_at(where(source, keys), "{}", why);
  };
  if (r.parallel.strategy != parallel::Strategy::Fsdp && r.parallel.zero_stage != parallel::ParallelOptions{}.zero_stage)
    refuse({"parallel", "zero_stage"}, "zero_stage is only read by strategy fsdp (strategy is ddp: everything replicated)");
  if (r.schedule.name == optim::ScheduleName::Constant && r.schedule.min_lr_ratio != optim::ScheduleOptions{}.min_lr_ratio)
    refuse({"schedule", "min_lr_ratio"}, "min_lr_ratio is the end of a linear or cosine decay; schedule constant "
                                         "does not decay");
  const data::DataOptions dd;
  if (!r.data.packing && r.data.pack_window != dd.pack_window)
    refuse({"data", "pack_window"}, "pack_window is the best-fit packer's window; data.packing is false");
  if (r.data.on_bad_record == data::BadRecords::Error && r.data.max_bad_records != dd.max_bad_records)
    refuse({"data", "max_bad_records"}, "max_bad_records bounds the records on_bad_record: skip skips; "
                                        "on_bad_record is error (the first bad record stops the run)");
  if (r.model.head.type == model::HeadType::None && r.model.head.num_labels != model::HeadOptions{}.num_labels)
    refuse({"model", "head", "num_labels"}, "num_labels sizes a head; model.head.type is none");
  if (r.model.head.type == model::HeadType::TokenClassification && r.model.head.num_labels < 2)
    refuse({"model", "head", "num_labels"}, fmt::format("token classification needs at least 2 classes (got {}); a "
                                                        "one-output token head is PPO's critic (algorithm.grpo.critic)",
                                                        r.model.head.num_labels));
  check_eval(r, refuse);
  const train::TrainerOptions td;
  if (r.trainer.max_steps > 0 && r.trainer.epochs != td.epochs)
    refuse({"trainer", "epochs"}, fmt::format("epochs is read when max_steps is 0; max_steps {} ends the run (the data "
                                              "repeats as often as it needs)", r.trainer.max_steps));
  for (size_t i = 0; i < r.data.sources.size(); ++i)
    if (r.trainer.max_steps > 0 && r.data.sources[i].epochs != data::SourceOptions{}.epochs)
      refuse({"data", "sources", std::to_string(i), "epochs"},
             fmt::format("a source's epochs bound its passes when trainer.max_steps is 0; max_steps {} ends the run "
                         "(sources repeat as often as they need, in the mixture's weights)", r.trainer.max_steps));
  if (!r.trainer.eval.generate && r.trainer.eval.tasks.empty() && r.trainer.eval.max_batch != td.eval.max_batch)
    refuse({"trainer", "eval", "max_batch"}, "max_batch sizes the generation batches of eval.generate and "
                                             "trainer.eval.tasks; neither is set");
  if (!r.trainer.eval.generate && r.trainer.eval.max_new_tokens != td.eval.max_new_tokens)
    refuse({"trainer", "eval", "max_new_tokens"}, "max_new_tokens limits eval.generate's answers; trainer.eval.generate "
                                                  "is false");
  if (r.model.lora && r.model.lora->merge_on_export && !r.checkpoint.save_final_hf)
    refuse({"model", "lora", "merge_on_export"}, "merge_on_export merges the adapters into the final HF export; "
                                                 "checkpoint.save_final_hf is false (no export)");
  const auto& a = r.algorithm;
  if (a.name == algo::Name::Dpo) {
    const algo::DpoOptions d, &o = a.dpo;
    const std::string loss = enum_name(o.loss);
    if (o.label_smoothing != d.label_smoothing &&
        (o.loss == algo::DpoLoss::Ipo || o.loss == algo::DpoLoss::Hinge || o.loss == algo::DpoLoss::Orpo))
      refuse({"algorithm", "dpo", "label_smoothing"}, fmt::format("label_smoothing is not used by loss {} (only sigmoid, "
                                                                   "robust and simpo smooth their labels)", loss));
    if (o.simpo_gamma != d.simpo_gamma && o.loss != algo::DpoLoss::Simpo)
      refuse({"algorithm", "dpo", "simpo_gamma"}, fmt::format("simpo_gamma is only used by loss simpo (loss is {})", loss));
    const bool ref_free = o.loss == algo::DpoLoss::Simpo || o.loss == algo::DpoLoss::Orpo;
    if (ref_free && (o.reference != d.reference || !o.reference_path.empty()))
      refuse({"algorithm", "dpo", "reference"},
             fmt::format("loss {} is reference-free: reference / reference_path do not apply", loss));
    if (o.loss == algo::DpoLoss::Orpo && o.nll_weight == 0)
      refuse({"algorithm", "dpo", "nll_weight"}, "loss orpo is the odds-ratio term plus the NLL of the chosen answers: "
                                                 "set nll_weight (ORPO's is 1)");
  }
  if (a.name == algo::Name::Distill && a.distill.beta != algo::DistillOptions{}.beta &&
      a.distill.loss != algo::DistillLoss::Jsd)
    refuse({"algorithm", "distill", "beta"},
           fmt::format("beta is only used by loss jsd (loss is {}: its beta is fixed)", enum_name(a.distill.loss)));
  if (a.name == algo::Name::Distill && a.distill.on_policy == 0) {
    const algo::DistillOptions d;
    for (auto [key, set] : {std::pair<const char*, bool>{"max_new_tokens", a.distill.max_new_tokens != d.max_new_tokens},
                            {"max_batch", a.distill.max_batch != d.max_batch},
                            {"rollout_ranks", a.distill.rollout_ranks != d.rollout_ranks}})
      if (set)
        refuse({"algorithm", "distill", key}, fmt::format("{} sets how the student samples its answers; on_policy is "
                                                          "0 (offline distillation: the dataset's answers)", key));
  }
  if (a.name == algo::Name::Grpo) {
    const algo::GrpoOptions d, &g = a.grpo;
    if (g.beta == 0 && (g.reference != d.reference || !g.reference_path.empty()))
      refuse({"algorithm", "grpo", "reference"}, "beta is 0, so no reference is used: reference / reference_path do not "
                                                 "apply (set beta > 0 for the KL term)");
    if (g.advantage != algo::Advantage::Group && g.scale_rewards != d.scale_rewards)
      refuse({"algorithm", "grpo", "scale_rewards"},
             fmt::format("scale_rewards applies to advantage group only (advantage is {}: rloo is not scaled, "
                         "reinforce_pp whitens over the batch's completion tokens)", enum_name(g.advantage)));
    const bool gae = g.advantage == algo::Advantage::Gae;
    if (!gae && g.group_size < 2)
      refuse({"algorithm", "grpo", "group_size"},
             fmt::format("advantage {} compares the completions of a prompt: group_size must be at least 2 (only "
                         "gae, with a critic, learns from one)", enum_name(g.advantage)));
    if (!gae && (g.gamma != d.gamma || g.lam != d.lam))
      refuse({"algorithm", "grpo", g.gamma != d.gamma ? "gamma" : "lam"},
             fmt::format("gamma and lam are GAE's; advantage is {}", enum_name(g.advantage)));
    if (g.kl_in_reward && g.beta == 0)
      refuse({"algorithm", "grpo", "kl_in_reward"}, "kl_in_reward moves the KL term into the reward; beta is 0 (no "
                                                    "KL term): set beta > 0");
    if (g.kl_in_reward && (g.advantage == algo::Advantage::Group || g.advantage == algo::Advantage::Rloo))
      refuse({"algorithm", "grpo", "kl_in_reward"},
             fmt::format("kl_in_reward shapes per-token returns: advantage gae, reinforce_pp or reinforce_pp_baseline "
                         "(advantage is {}, whose KL term belongs in the loss)", enum_name(g.advantage)));
    if (gae && g.dynamic_sampling)
      refuse({"algorithm", "grpo", "dynamic_sampling"}, "dynamic_sampling drops groups of equal rewards; with "
                                                        "advantage gae a lone completion still teaches the critic");
    if (gae) check_critic(r, refuse);
    if (gae && r.parallel.tensor_parallel > 1)
      refuse({"parallel", "tensor_parallel"}, "advantage gae trains a replicated critic beside the policy: tensor "
                                              "parallelism is not supported with it");
    if (g.loss == algo::GrpoLoss::Cispo && g.epsilon != d.epsilon)
      refuse({"algorithm", "grpo", "epsilon"}, "loss cispo has no lower clip: epsilon does not apply (epsilon_high "
                                               "caps the importance weight)");
    if (g.loss == algo::GrpoLoss::Cispo && g.epsilon_high <= 1)
      refuse({"algorithm", "grpo", "epsilon_high"},
             fmt::format("loss cispo caps the importance weight at epsilon_high = {}, which is not above 1 (every "
                         "token would be down-weighted); set the cap epsilon_max, e.g. 5.0", g.epsilon_high));
    if (g.overlong_buffer == 0 && g.overlong_penalty != d.overlong_penalty)
      refuse({"algorithm", "grpo", "overlong_penalty"}, "overlong_penalty needs overlong_buffer > 0");
    check_environment(g.environment, [&](const std::vector<std::string>& keys, const std::string& why) {
      std::vector<std::string> full{"algorithm", "grpo", "environment"};
      full.insert(full.end(), keys.begin(), keys.end());
      fail_at(where(source, full), "{}", why);
    });
    check_async(g, refuse);
    for (size_t i = 0; i < g.rewards.size(); ++i) {
      const algo::RewardOptions rd, &w = g.rewards[i];
      auto only = [&](bool used, bool set, const char* field, const char* users) {
        if (!used && set)
          fail_at(where(source, {"algorithm", "grpo", "rewards", std::to_string(i), field}),
                  "{} is only read by reward {} (this reward is '{}')", field, users, w.name);
      };
      const std::string& n = w.name;
      only(n == "regex", w.pattern != rd.pattern, "pattern", "regex");
      only(n == "command", w.command != rd.command, "command", "command");
      only(n == "command", w.timeout_s != rd.timeout_s, "timeout_s", "command");
      only(n == "command", w.on_error != rd.on_error, "on_error", "command");
      only(n == "model", w.model != rd.model, "model", "model");
      only(n == "numeric", w.tolerance != rd.tolerance, "tolerance", "numeric");
      only(n == "length_penalty", w.target_tokens != rd.target_tokens, "target_tokens", "length_penalty");
      only(n == "length_penalty", w.penalty_scale != rd.penalty_scale, "penalty_scale", "length_penalty");
      only(n == "exact_match" || n == "numeric", w.answer_field != rd.answer_field, "answer_field",
           "exact_match or numeric");
    }
  }
}

// What the run itself would refuse, decided from the recipe alone, so validate and --dry-run give
// the run's verdict with the key's location (the run keeps its own checks as backstops).
void check_run_refusals(const Recipe& r, const Node& source) {
  auto refuse = [&](std::initializer_list<std::string> keys, const std::string& why) {
    fail_at(where(source, keys), "{}", why);
  };
  const auto& a = r.algorithm;
  auto reference = [&](const char* section, algo::DpoReference ref, const std::string& ref_path, bool used) {
    if (!used) return;
    if (ref == algo::DpoReference::Adapters && !r.model.lora)
      refuse({"algorithm", section, "reference"}, "reference 'adapters' is the policy with its LoRA adapters switched "
                                                  "off; this run has no model.lora");
    if (ref == algo::DpoReference::Adapters && !ref_path.empty())
      refuse({"algorithm", section, "reference_path"}, "reference_path is set but reference is 'adapters' (the "
                                                       "policy without its adapters); use reference: model to load it");
    const bool copy = ref == algo::DpoReference::Model || ref == algo::DpoReference::Cached ||
                      (ref == algo::DpoReference::Auto && !(r.model.lora && ref_path.empty()));
    if (copy && r.model.init && ref_path.empty())
      refuse({"algorithm", section, "reference_path"}, "the reference is a frozen copy of the starting weights, but "
                                                       "model.init creates them at random: set reference_path");
  };
  reference("dpo", a.dpo.reference, a.dpo.reference_path, a.name == algo::Name::Dpo && a.dpo.loss != algo::DpoLoss::Simpo &&
                                                              a.dpo.loss != algo::DpoLoss::Orpo);
  reference("kto", a.kto.reference, a.kto.reference_path, a.name == algo::Name::Kto);
  reference("grpo", a.grpo.reference, a.grpo.reference_path, a.name == algo::Name::Grpo && a.grpo.beta > 0);
  if (a.name == algo::Name::Grpo)
    for (size_t i = 0; i < a.grpo.rewards.size(); ++i) {
      const auto& w = a.grpo.rewards[i];
      const Location at{"", 0, 0, fmt::format("algorithm.grpo.rewards[{}]", i)};
      if (w.name == "regex" && w.pattern.empty()) fail_at(at, "reward 'regex' needs a pattern");
      if (w.name == "regex") {
        try {
          tok::Regex re(w.pattern);
        } catch (const std::exception& e) {
          fail_at(at, "reward 'regex': the pattern does not compile: {}", e.what());
        }
      }
      if (w.name == "command" && w.command.empty()) fail_at(at, "reward 'command' needs a command (the process to start)");
      if (w.name == "model" && w.model.empty())
        fail_at(at, "reward 'model' needs model: a *ForSequenceClassification directory");
    }
  if (r.model.lora && r.model.lora->target_modules.empty())
    refuse({"model", "lora", "target_modules"}, "target_modules is empty: LoRA would train nothing");
  const auto& tk = r.tokenizer;
  const bool adds = !tk.add_tokens.empty() || !tk.add_special_tokens.empty() || !tk.add_tokens_file.empty();
  if (adds && tk.path.empty() && r.model.init)
    refuse({"tokenizer"}, "tokenizer.add_tokens / add_special_tokens need a tokenizer (tokenizer.path); model.init "
                          "creates none");
  // A created model has no tokenizer unless one is given; then every source must be pre-tokenized.
  if (r.model.path.empty() && tk.path.empty())
    for (size_t i = 0; i < r.data.sources.size(); ++i)
      if (r.data.sources[i].format != data::Format::TokenIds)
        refuse({"data", "sources", std::to_string(i), "format"},
               fmt::format("source '{}' (format {}) needs a tokenizer: set tokenizer.path (model.init creates none) "
                           "or give token_ids", r.data.sources[i].name, enum_name(r.data.sources[i].format)));
  if (tk.train_new_tokens_only && !adds)
    refuse({"tokenizer", "train_new_tokens_only"}, "train_new_tokens_only trains the rows of added tokens; nothing is "
                                                   "added (add_tokens, add_special_tokens, add_tokens_file)");
  if (r.model.init && r.data.seq_len > r.model.init->max_position_embeddings)
    refuse({"data", "seq_len"}, fmt::format("seq_len {} exceeds model.init.max_position_embeddings {}", r.data.seq_len,
                                            r.model.init->max_position_embeddings));
  const bool samples = a.name == algo::Name::Grpo || (a.name == algo::Name::Distill && a.distill.on_policy > 0);
  if (samples && r.parallel.strategy == parallel::Strategy::Fsdp && r.parallel.zero_stage == 3)
    refuse({"parallel", "zero_stage"}, "zero_stage 3 with sampling (grpo, on-policy distillation): every decoding "
                                       "step would gather each layer from all ranks; use zero_stage 2");
  if (algo::rollout_ranks(a) > 0 && r.parallel.strategy == parallel::Strategy::Fsdp)
    refuse({"parallel", "strategy"}, fmt::format("strategy fsdp with {}: the rollout workers receive whole weights; "
                                                 "use ddp (or colocated rollouts)", algo::rollout_ranks_key(a)));
  if (algo::rollout_ranks(a) > 0 && r.parallel.tensor_parallel > 1)
    refuse({"parallel", "tensor_parallel"}, fmt::format("tensor_parallel > 1 with {} is not supported",
                                                        algo::rollout_ranks_key(a)));
  if (r.parallel.backend == parallel::Backend::Nccl && r.parallel.device == parallel::Device::Cpu)
    refuse({"parallel", "backend"}, "backend nccl needs CUDA devices (parallel.device is cpu): use mpi or auto");
}

}  // namespace

namespace {

// Each source's format against the algorithm, and unique names; located at data.<list>[i].
void check_sources(const Recipe& r, const Node& resolved, const std::vector<data::SourceOptions>& sources,
                   const char* list) {
  const auto name = r.algorithm.name;
  std::set<std::string> names;
  for (size_t i = 0; i < sources.size(); ++i) {
    const auto& s = sources[i];
    const std::string idx = std::to_string(i);
    auto refuse = [&](const char* key, const std::string& why) { fail_at(where(resolved, {"data", list, idx, key}), "{}", why); };
    if (!s.name.empty() && !names.insert(s.name).second) refuse("name", fmt::format("duplicate source name '{}'", s.name));
    const bool pref = s.format == data::Format::Preference;
    const bool pairs = name == algo::Name::Dpo || name == algo::Name::RewardModel;
    if (pairs && !pref)
      refuse("format", fmt::format("algorithm {} needs preference data, but this source has format '{}'",
                                   enum_name(name), enum_name(s.format)));
    if (!pairs && pref)
      refuse("format", fmt::format("preference data is only used by algorithms dpo and reward_model (algorithm.name "
                                   "is '{}')", enum_name(name)));
    if ((name == algo::Name::Kto) != (s.format == data::Format::Unpaired))
      refuse("format", name == algo::Name::Kto
                           ? fmt::format("algorithm kto needs format 'unpaired' ({{prompt, completion, label: true | "
                                         "false}} records), but this source has format '{}'", enum_name(s.format))
                           : std::string("unpaired data (format 'unpaired') is only used by algorithm kto"));
    const bool cls = s.format == data::Format::Classification || s.format == data::Format::TokenClassification;
    if ((name == algo::Name::Classify) != cls)
      refuse("format", cls ? "classification data is only used by algorithm classify"
                           : "algorithm classify needs format 'classification' ({text, label} records) or "
                             "'token_classification' ({ids, labels} records)");
    if (name == algo::Name::Grpo && s.format != data::Format::Prompts)
      refuse("format", "algorithm grpo needs format 'prompts'");
  }
}

void check_data(const Recipe& r, const Node& resolved) {
  const auto& d = r.data;
  if (d.sources.empty())
    fail_at(where(resolved, {"data", "sources"}), r.algorithm.name == algo::Name::Grpo
                                                      ? "GRPO needs a prompts source"
                                                      : "at least one training source is required");
  check_sources(r, resolved, d.sources, "sources");
  check_sources(r, resolved, d.eval_sources, "eval_sources");
  // The eval split is read once, every record in order: a mixture weight or extra passes would be
  // accepted and ignored.
  for (size_t i = 0; i < d.eval_sources.size(); ++i) {
    const data::SourceOptions def;
    const auto& s = d.eval_sources[i];
    if (s.weight != def.weight || s.epochs != def.epochs)
      fail_at(where(resolved, {"data", "eval_sources", std::to_string(i), s.weight != def.weight ? "weight" : "epochs"}),
              "held-out sources are read once, every record in order: weight and epochs do not apply to them");
  }
}

// Whole rows per micro-batch, whole micro-batches per step and per rank; warmup within the run.
void check_batch_and_optimizer(const Recipe& r, const Node& resolved) {
  const auto& t = r.trainer;
  const int64_t seq_len = r.data.seq_len;
  const int dp = r.parallel.data_parallel;
  const auto g = train::batch_geometry(t, seq_len, dp);
  if (g.micro_tokens % seq_len != 0)
    fail_at(where(resolved, {"trainer", "micro_batch_tokens"}),
            "micro_batch_tokens ({}) must be a multiple of data.seq_len ({}): micro-batches are whole rows",
            g.micro_tokens, seq_len);
  if (t.global_batch_tokens % g.micro_tokens != 0)
    fail_at(where(resolved, {"trainer", "global_batch_tokens"}),
            "global_batch_tokens ({}) must be a multiple of micro_batch_tokens ({})", t.global_batch_tokens,
            g.micro_tokens);
  if (dp > 0 && g.micro_per_step % dp != 0)
    fail_at(where(resolved, {"trainer", "global_batch_tokens"}),
            "global_batch_tokens / micro_batch_tokens = {} micro-batches per step is not divisible by "
            "parallel.data_parallel = {}",
            g.micro_per_step, dp);
  if (r.schedule.warmup_steps > 0 && t.max_steps > 0 && r.schedule.warmup_steps > t.max_steps)
    fail_at(where(resolved, {"schedule", "warmup_steps"}), "warmup_steps ({}) exceeds trainer.max_steps ({})",
            r.schedule.warmup_steps, t.max_steps);
  if (r.optimizer.betas.size() != 2)
    fail_at(where(resolved, {"optimizer", "betas"}), "expected exactly two betas, got {}", r.optimizer.betas.size());
  if (r.optimizer.name != "adamw")
    fail_at(where(resolved, {"optimizer", "name"}), "unknown optimizer '{}': expected one of adamw",
            r.optimizer.name);
}

// Heads, rewards, packing and references against the algorithm that would use them.
void check_algorithm_needs(const Recipe& r, const Node& resolved) {
  const auto name = r.algorithm.name;
  // A head only classify / reward_model train would otherwise be carried along untrained.
  const bool head_algo = name == algo::Name::Classify || name == algo::Name::RewardModel;
  if (r.model.head.type != model::HeadType::None && !head_algo)
    fail_at(where(resolved, {"model", "head"}), "model.head ({}) is trained by algorithms classify and reward_model; "
            "algorithm {} trains the LM head (remove model.head, or set algorithm.name: classify)",
            enum_name(r.model.head.type), enum_name(name));
  if (name == algo::Name::RewardModel && r.model.head.type != model::HeadType::None &&
      (r.model.head.type != model::HeadType::SequenceClassification || r.model.head.num_labels != 1))
    fail_at(where(resolved, {"model", "head"}),
            "algorithm reward_model scores each answer with one number: model.head needs type "
            "sequence_classification and num_labels 1 (got {}, num_labels {})",
            enum_name(r.model.head.type), r.model.head.num_labels);
  if (name == algo::Name::RewardModel && r.model.lora)
    fail_at(where(resolved, {"model", "lora"}), "algorithm reward_model with model.lora: the score head would stay "
            "frozen (heads under LoRA are not part of this build yet); use full fine-tuning");
  if (name == algo::Name::Grpo && r.algorithm.grpo.rewards.empty() &&
      (r.algorithm.grpo.environment.name == "single_turn" || r.algorithm.grpo.environment.name == "tools"))
    fail_at(where(resolved, {"algorithm", "grpo", "rewards"}),
            "GRPO needs at least one reward (or an environment that scores its episodes: algorithm.grpo.environment; "
            "environment '{}' adds no reward of its own)", r.algorithm.grpo.environment.name);
  if (name == algo::Name::Grpo && r.data.packing)
    fail_at(where(resolved, {"data", "packing"}),
            "GRPO reads one prompt per row: set data.packing: false (prompts per step = "
            "trainer.global_batch_tokens / data.seq_len)");
  if (name == algo::Name::Kto && r.algorithm.kto.reference == algo::DpoReference::Cached)
    fail_at(where(resolved, {"algorithm", "kto", "reference"}),
            "KTO's KL reference point scores mismatched prompt/completion pairs that change every step: 'cached' "
            "does not apply (use model or adapters)");
  if (name == algo::Name::Grpo && r.algorithm.grpo.reference == algo::DpoReference::Cached)
    fail_at(where(resolved, {"algorithm", "grpo", "reference"}),
            "GRPO's reference scores fresh completions every step: 'cached' does not apply (use model or adapters)");
}

}  // namespace

void validate(const Recipe& r, const Node& resolved) {
  if (r.model.path.empty() == !r.model.init.has_value())
    fail_at(where(resolved, {"model", "path"}),
            r.model.init ? "model.path and model.init both set: load a checkpoint or create a model, not both"
                         : "model.path is required (or model.init to create a model from the recipe)");
  check_data(r, resolved);
  check_batch_and_optimizer(r, resolved);
  // Refused rather than run as something else: it needs split-aware code that is not written yet.
  if (r.parallel.tensor_parallel > 1 && r.tokenizer.train_new_tokens_only)
    fail_at(where(resolved, {"tokenizer", "train_new_tokens_only"}),
            "training only new token rows is not supported with tensor_parallel > 1");
  if (r.model.attention == model::AttentionBackend::Flash && r.parallel.device == parallel::Device::Cpu)
    fail_at(where(resolved, {"model", "attention"}), "attention 'flash' needs a CUDA device (parallel.device is cpu)");
  check_applicable(r, resolved);
  check_run_refusals(r, resolved);
  check_algorithm_needs(r, resolved);
}

}  // namespace pt::recipe
