#include "registry/builtins.h"

#include <mutex>

#include "algo/classify.h"
#include "algo/distill.h"
#include "algo/dpo.h"
#include "algo/kto.h"
#include "algo/reward_model.h"
#include "algo/sft.h"
#include "registry/catalog.h"
#include "rl/grpo.h"

namespace pt::registry {

std::unique_ptr<rl::RewardFunction> make_reward(const algo::RewardOptions& o) {
  register_builtins();
  auto& reg = registries().rewards;
  if (!reg.contains(o.name)) fail("algorithm.grpo.rewards: unknown reward '{}' (posttrain list reward)", o.name);
  return reg.get(o.name)(o);
}

std::unique_ptr<env::Environment> make_environment(const algo::EnvironmentOptions& o) {
  register_builtins();
  auto& reg = registries().environments;
  if (!reg.contains(o.name))
    fail("algorithm.grpo.environment: unknown environment '{}' (posttrain list environment)", o.name);
  return reg.get(o.name)(o);
}

Registries& registries() {
  static Registries r;
  return r;
}

void register_builtins() {
  static std::once_flag once;
  std::call_once(once, [] {
    auto& r = registries();
    for (const model::ArchSpec* a : model::all_architectures()) r.architectures.add(a->hf_name, a->help, a);
    r.attention.add("eager", "block-diagonal causal mask over the packed row; any device, O(N^2) memory",
                    model::AttentionBackend::Eager);
    r.attention.add("sdpa", "fused scaled-dot-product attention per document; any device",
                    model::AttentionBackend::Sdpa);
    r.attention.add("flash", "CUDA flash-attention varlen over cu_seqlens (at::_flash_attention_forward)",
                    model::AttentionBackend::Flash);
    r.algorithms.add("sft", "supervised fine-tuning: chunked cross-entropy on trained (assistant) tokens", algo::make_sft);
    r.algorithms.add("dpo",
                     "preference optimization over packed pairs: DPO, IPO, hinge, robust, cDPO, SimPO, RPO's NLL term",
                     algo::make_dpo);
    r.algorithms.add("distill", "knowledge distillation from a frozen teacher: forward/reverse KL, generalized JSD",
                     algo::make_distill);
    r.algorithms.add("grpo",
                     "on-policy RL: GRPO, Dr. GRPO, BNPO, DAPO, GSPO with group advantages, clipping and a k3 KL",
                     [](const recipe::Recipe& rc) { return rl::make_grpo(rc, {make_reward, make_environment}); });
    r.algorithms.add("classify", "sequence classification / regression with the score head (model.head)",
                     algo::make_classify);
    r.algorithms.add("kto", "KTO on unpaired desirable / undesirable examples against a reference, with the "
                     "batch's KL reference point from mismatched pairs", algo::make_kto);
    r.algorithms.add("reward_model",
                     "reward-model training on preference pairs: Bradley-Terry loss on the score head (optional "
                     "margin, centring term); exports a *ForSequenceClassification for the `model` reward",
                     algo::make_reward_model);
    using algo::Advantage;
    r.advantages.add("group", "reward - group mean, divided by the group's or batch's std or not (scale_rewards): "
                     "GRPO, Dr. GRPO", Advantage::Group);
    r.advantages.add("rloo", "reward - mean of the other completions of its group (RLOO, leave-one-out)",
                     Advantage::Rloo);
    r.advantages.add("reinforce_pp", "REINFORCE++: rewards whitened over the step's completion tokens (verl)",
                     Advantage::ReinforcePP);
    r.advantages.add("reinforce_pp_baseline", "REINFORCE++-baseline: group mean subtracted, then whitened over "
                     "the step's completion tokens (verl)", Advantage::ReinforcePPBaseline);
    r.advantages.add("gae", "PPO: generalized advantage estimation (gamma, lam) against a learned critic (a model of "
                     "its own, or a value head on the policy with critic.model: policy; algorithm.grpo.critic), "
                     "whitened over the step's tokens",
                     Advantage::Gae);
    using algo::GrpoLoss;
    r.policy_losses.add("grpo", "clipped surrogate; per-sequence token mean, then mean over sequences", GrpoLoss::Grpo);
    r.policy_losses.add("bnpo", "clipped surrogate; mean over the step's completion tokens", GrpoLoss::Bnpo);
    r.policy_losses.add("dr_grpo", "clipped surrogate; sum / (sequences x max_new_tokens)", GrpoLoss::DrGrpo);
    r.policy_losses.add("dapo", "clipped surrogate (clip-higher); mean over the step's completion tokens",
                        GrpoLoss::Dapo);
    r.policy_losses.add("cispo", "CISPO: capped, non-differentiated importance weight x advantage x log-prob "
                        "(epsilon_high = the cap); mean over the step's completion tokens", GrpoLoss::Cispo);
    r.rewards.add("exact_match", "1 if the completion's final answer (after ####, in \\boxed{}, or its last line) "
                  "equals the record's answer (its final answer, found the same way)", rl::make_exact_match);
    r.rewards.add("numeric", "1 if the last number of the final answer equals the record's answer within tolerance",
                  rl::make_numeric);
    r.rewards.add("regex", "1 if the completion contains a match of `pattern` (format rewards)", rl::make_regex);
    r.rewards.add("length_penalty", "-min(1, tokens over target_tokens / penalty_scale)", rl::make_length_penalty);
    r.rewards.add("command", "an external process scoring JSONL on stdin/stdout, with a timeout", rl::make_command);
    r.rewards.add("model", "a reward model: an HF *ForSequenceClassification checkpoint (num_labels 1) on prompt + "
                  "completion", rl::make_reward_model);
    r.environments.add("single_turn", "one completion per prompt, scored by the rewards (classic GRPO: the one-turn "
                       "episode)", env::make_single_turn);
    r.environments.add("calculator", "tool use: arithmetic word problems with a calculator tool (JSON-schema "
                       "declared, calls in hermes / llama3 / mistral format); reward 1 for the record's answer",
                       env::make_calculator);
    r.environments.add("guess_number", "a multi-turn game: guess a seeded secret number in [low, high] with "
                       "higher / lower feedback; reward 1 - 0.1 x (turns - 1) when solved", env::make_guess_number);
    r.environments.add("tools", "the recipe's tools (environment.tools: built-ins or external processes, JSON-schema "
                       "declared); an episode ends at the first turn without a tool call, scored by the rewards",
                       env::make_tool_use);
    r.environments.add("command", "an external process serving every episode over JSONL (reset / step / close with "
                       "episode ids), with a timeout per reply: any simulator, in any language", env::make_command);
  });
}

std::vector<Listing> catalog() {
  std::vector<Listing> out;
  auto add_all = [&](const auto& reg) {
    for (const auto& e : reg.entries()) out.push_back({reg.kind(), e.name, e.help});
  };
  add_all(registries().architectures);
  add_all(registries().attention);
  add_all(registries().algorithms);
  add_all(registries().rewards);
  add_all(registries().environments);
  add_all(registries().advantages);
  add_all(registries().policy_losses);
  return out;
}

}  // namespace pt::registry
