#pragma once
// Recipe section `algorithm`: `name` selects the algorithm; only its own subsection is allowed.
#include <string>
#include <vector>

#include "recipe/fields.h"

namespace pt::algo {

enum class Name { Sft, Dpo, Grpo, Distill, Classify, RewardModel, Kto };
enum class DpoLoss { Sigmoid, Ipo, Hinge, Robust, Simpo, Orpo };
enum class DpoReference { Auto, Model, Adapters, Cached };
enum class DistillLoss { ForwardKl, ReverseKl, Jsd };

struct SftOptions {
  template <class V>
  void visit(V&) {}
};

struct DpoOptions {
  double beta = 0.1;
  DpoLoss loss = DpoLoss::Sigmoid;
  double label_smoothing = 0.0;
  double simpo_gamma = 0.5;
  double nll_weight = 0.0;
  DpoReference reference = DpoReference::Auto;
  std::string reference_path;  // "" = model.path
  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("beta", beta,
            Spec("strength of the implicit KL constraint (SimPO: reward scale; ORPO: weight lambda of the "
                 "odds-ratio term)")
                .gt(0));
    v.field("loss", loss,
            Spec("sigmoid = DPO (with label_smoothing: conservative DPO), ipo, hinge, robust (unbiased under label "
                 "noise), simpo (reference-free, length-normalized), orpo (reference-free odds ratio of the "
                 "answers' mean token probabilities; with nll_weight 1 it is ORPO)"));
    v.field("label_smoothing", label_smoothing,
            Spec("probability that a preference label is flipped (sigmoid, robust, simpo)").min(0).lt(0.5));
    v.field("simpo_gamma", simpo_gamma, Spec("SimPO target reward margin gamma").min(0));
    v.field("nll_weight", nll_weight,
            Spec("weight of an NLL term on the chosen answers (RPO); 0 = off").min(0));
    v.field("reference", reference,
            Spec("where reference log-probs come from: model = a frozen copy loaded from reference_path; adapters = "
                 "the policy with its LoRA adapters switched off (no second copy); cached = computed once before "
                 "training with a frozen copy and kept in the run directory; auto = adapters with LoRA, else model"));
    v.field("reference_path", reference_path,
            Spec("reference model directory (model / cached); empty = model.path, the starting weights"));
  }
};

// KTO on unpaired examples (algo/kto.h).
struct KtoOptions {
  double beta = 0.1;
  double desirable_weight = 1.0;
  double undesirable_weight = 1.0;
  DpoReference reference = DpoReference::Auto;
  std::string reference_path;
  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("beta", beta, Spec("strength of the implicit KL constraint").gt(0));
    v.field("desirable_weight", desirable_weight,
            Spec("weight lambda_D of the desirable examples' losses (TRL: keep desirable_weight x n_D / "
                 "(undesirable_weight x n_U) in [1, 4/3])")
                .min(0));
    v.field("undesirable_weight", undesirable_weight, Spec("weight lambda_U of the undesirable examples' losses").min(0));
    v.field("reference", reference,
            Spec("reference log-probs: model = a frozen copy of reference_path, adapters = the policy with its LoRA "
                 "adapters switched off, auto = adapters with LoRA, else model (cached: refused)"));
    v.field("reference_path", reference_path, Spec("reference model directory; empty = model.path"));
  }
};

enum class OnRewardError { Error, Skip };

struct RewardOptions {
  std::string name;
  std::string label;  // metrics key; "" = name
  double weight = 1.0;
  std::string answer_field = "answer";
  std::string pattern;
  std::string command;
  std::string model;
  double timeout_s = 60;
  OnRewardError on_error = OnRewardError::Error;
  double tolerance = 1e-6;
  int target_tokens = 0;
  double penalty_scale = 100;
  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("name", name,
            Spec("registered reward function (posttrain list reward)")
                .one_of({"exact_match", "numeric", "regex", "length_penalty", "command", "model"})
                .req());
    v.field("label", label, Spec("name in metrics (rewards/<label>); empty = name"));
    v.field("weight", weight, Spec("weight in the summed reward (0: scored and logged as rewards/NAME only, a monitor)"));
    v.field("answer_field", answer_field,
            Spec("record field holding the reference answer (exact_match, numeric; data.sources[].fields may map it)"));
    v.field("pattern", pattern, Spec("regex: PCRE2 pattern the completion must contain (1 if found, else 0)"));
    v.field("command", command,
            Spec("command: a process started once (sh -c) that reads one JSON object per line on stdin "
                 "({prompt, completion, record}) and answers one line each: a number, {\"reward\": number} or null"));
    v.field("model", model,
            Spec("model: an HF *ForSequenceClassification directory (num_labels 1, with its tokenizer) scoring the "
                 "prompt text followed by the completion"));
    v.field("timeout_s", timeout_s, Spec("command: seconds to wait for a batch's replies").gt(0));
    v.field("on_error", on_error,
            Spec("command: a crash, hang or malformed reply stops the run (error) or leaves the batch unscored "
                 "(skip: no advantage, counted in metrics)"));
    v.field("tolerance", tolerance, Spec("numeric: relative tolerance").min(0));
    v.field("target_tokens", target_tokens, Spec("length_penalty: completions longer than this are penalized").min(0));
    v.field("penalty_scale", penalty_scale,
            Spec("length_penalty: tokens over target that cost the full penalty of -1").gt(0));
  }
};

enum class GrpoLoss { Grpo, Bnpo, DrGrpo, Dapo, Cispo };
enum class RewardScale { Group, Batch, None };
enum class Advantage { Group, Rloo, ReinforcePP, ReinforcePPBaseline, Gae };

enum class CriticModel { Separate, Policy };

// PPO's learned value function: a model of its own with a one-output token head (rl/critic.h),
// trained on the same rollout batch as the policy, before it (verl's order); or a value head on
// the policy itself (model: policy), trained by the policy's own loss and optimizer.
struct CriticOptions {
  CriticModel model = CriticModel::Separate;
  double value_coef = 0.1;
  std::string path;
  double lr = 1e-5;
  int lr_warmup_steps = 0;
  int warmup_steps = 0;
  double value_clip = 0.5;
  double max_grad_norm = 1.0;
  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("model", model,
            Spec("separate = a critic model of its own (path, lr, lr_warmup_steps, warmup_steps, max_grad_norm); "
                 "policy = a value head (hidden -> 1, with a bias) on the policy's final hidden states: one "
                 "backbone and one forward, the value loss x value_coef added to the policy loss, so it trains the "
                 "shared layers with the policy's optimizer (TRL's classic PPO with AutoModelForCausalLMWithValueHead); "
                 "saved beside the policy as value_head.safetensors (v_head.summary.weight / bias)"));
    v.field("value_coef", value_coef,
            Spec("model policy: the value loss's weight in the shared loss (TRL's vf_coef)").gt(0).max(100));
    v.field("path", path,
            Spec("critic model directory (HF; a *ForTokenClassification with num_labels 1 keeps its value head, "
                 "any other checkpoint of the family gets a new one); empty = model.path"));
    v.field("lr", lr, Spec("the critic's AdamW learning rate (the optimizer section's other settings apply)").gt(0).max(10));
    v.field("lr_warmup_steps", lr_warmup_steps, Spec("critic updates over which its learning rate rises linearly from 0").min(0));
    v.field("warmup_steps", warmup_steps,
            Spec("rollout batches at the start that train only the critic (the policy is not updated until its "
                 "values mean something; verl's critic_warmup)")
                .min(0));
    v.field("value_clip", value_clip,
            Spec("predicted values may move at most this far from the rollout's before the loss stops pulling "
                 "(verl's cliprange_value); 0 = no clipping")
                .min(0));
    v.field("max_grad_norm", max_grad_norm, Spec("the critic's gradient-norm clip; 0 = off").min(0));
  }
};
enum class ImportanceSampling { Token, Sequence };
enum class CorrectionMode { None, TokenTruncate, TokenMask, SequenceTruncate, SequenceMask };

// Off-policy correction (algo/rollout_correction.h): the loss of each token weighted by
// pi_prox / pi_behaviour, the trainer's policy before the update over the one that sampled it.
struct RolloutCorrectionOptions {
  CorrectionMode mode = CorrectionMode::None;
  double clip_min = 0.0;
  double clip_max = 2.0;
  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("mode", mode,
            Spec("none; token_truncate (TIS: each token's weight capped at clip_max), token_mask (MIS: tokens "
                 "whose weight is outside [clip_min, clip_max] dropped), sequence_truncate / sequence_mask (one "
                 "weight per completion, the product of its tokens' ratios) — TRL's vllm_importance_sampling_mode. "
                 "Any mode but none recomputes the trainer's log-probs of the rollout before each update"));
    v.field("clip_min", clip_min, Spec("lower bound of the weight (truncate: raised to it; mask: dropped below); 0 = none").min(0));
    v.field("clip_max", clip_max, Spec("upper bound of the weight (truncate: the cap C; mask: dropped above)").gt(0));
  }
};

enum class ToolFormat { Auto, Hermes, Llama3, Mistral };
enum class TemplateRewrite { Refuse, KeepSampled };

// Tools built into the binary, offered by name in environment.tools (lib/env/tools.h builds them).
inline const std::vector<std::string>& builtin_tools() {
  static const std::vector<std::string> names{"calculator"};
  return names;
}

// A tool the recipe declares (environment tools): its schema as the chat template's `tools` argument
// shows it, and what runs a call — a built-in tool (no command) or an external process.
struct ToolOptions {
  std::string name;
  std::string description;
  recipe::Json parameters;
  std::string command;
  double timeout_s = 30;
  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("name", name, Spec("the tool's name, as the model calls it").req());
    v.field("description", description, Spec("what the tool does, shown to the model (a built-in tool has its own)"));
    v.field("parameters", parameters,
            Spec("JSON Schema of the call's arguments object ({type: object, properties: {...}, required: [...]}); "
                 "calls are checked against it before they run (a built-in tool has its own)"));
    v.field("command", command,
            Spec("a process started once (sh -c) running every call of this tool (processes with the same command are "
                 "shared): {type: call, tool, arguments, episode} -> {content} or {error} (one JSON line each); {type: "
                 "close, episode} once per episode that called it (no reply); no command = "
                 "a built-in tool of that name (calculator)"));
    v.field("timeout_s", timeout_s, Spec("seconds to wait for a call's reply (command tools)").gt(0));
  }
};

// RL episodes (lib/env): the environment the policy acts in, turn by turn. single_turn is one
// completion per prompt scored by the rewards (classic GRPO); the others answer each turn.
struct EnvironmentOptions {
  std::string name = "single_turn";
  int max_turns = 4;
  int max_episode_tokens = 1024;
  ToolFormat tool_format = ToolFormat::Auto;
  OnRewardError on_error = OnRewardError::Error;
  TemplateRewrite on_template_rewrite = TemplateRewrite::Refuse;
  int low = 1, high = 100;
  std::string answer_field = "answer";
  std::string command;
  double timeout_s = 60;
  std::vector<ToolOptions> tools;
  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("name", name,
            Spec("registered environment (posttrain list environment): single_turn = one completion scored by "
                 "the rewards; calculator = tool use (a calculator tool, reward 1 for the record's answer); "
                 "guess_number = a game with higher/lower feedback; tools = the recipe's tools, an episode ends at "
                 "the first turn without a call, scored by the rewards; command = an external process")
                .one_of({"single_turn", "calculator", "guess_number", "tools", "command"}));
    v.field("max_turns", max_turns, Spec("policy turns per episode (not single_turn)").min(1));
    v.field("max_episode_tokens", max_episode_tokens,
            Spec("tokens after the prompt an episode may hold, sampled and environment ones together (not "
                 "single_turn); an episode that reaches it stops (stop reason budget)")
                .min(1));
    v.field("tool_format", tool_format,
            Spec("how tool calls are read from the model's turns: hermes = <tool_call>{json}</tool_call> "
                 "(Qwen, Hermes), llama3 = a JSON object {name, parameters} (after <|python_tag|> or alone), "
                 "mistral = [TOOL_CALLS] [{json}, ...]; auto = whichever of them the turn contains (calculator, tools)"));
    v.field("on_error", on_error,
            Spec("an environment failing on an episode stops the run (error) or drops the episode from the "
                 "update (skip: unscored, counted in episode/stop_env_error)"));
    v.field("on_template_rewrite", on_template_rewrite,
            Spec("a chat template that rewrites earlier turns (Qwen3's drops earlier reasoning): refuse (checked at "
                 "start-up), or keep_sampled — each episode keeps exactly the tokens its policy saw, every "
                 "environment answer rendered by the template after the opening and that turn alone (the episode "
                 "then differs from the whole conversation re-rendered, as the template would show it at inference)"));
    v.field("low", low, Spec("guess_number: smallest secret number"));
    v.field("high", high, Spec("guess_number: largest secret number"));
    v.field("answer_field", answer_field, Spec("calculator: record field holding the reference answer"));
    v.field("command", command,
            Spec("command: a process started once (sh -c) serving every episode over JSONL on stdin/stdout: "
                 "{type: reset, episode, seed, record} -> {episode, messages, tools?}; {type: step, episode, turn, "
                 "text, text_raw} -> {episode, messages, reward, done, tool_calls_ok?, tool_calls_failed?} or "
                 "{episode, error}; {type: close, episode} (no reply)"));
    v.field("timeout_s", timeout_s, Spec("command: seconds to wait for each reply").gt(0));
    v.field("tools", tools,
            Spec("tools: the tools every episode is offered (rendered through the chat template's tools argument; "
                 "calls read in tool_format, answered as tool messages; a failing call is an error message the model "
                 "sees, counted in episode/tool_calls_failed)"));
  }
};

struct GrpoOptions {
  int group_size = 8;
  int max_new_tokens = 256;
  double temperature = 1.0;
  double top_p = 1.0;
  int top_k = 0;
  double min_p = 0.0;
  GrpoLoss loss = GrpoLoss::Dapo;
  RewardScale scale_rewards = RewardScale::Group;
  Advantage advantage = Advantage::Group;
  ImportanceSampling importance_sampling = ImportanceSampling::Token;
  double epsilon = 0.2;
  double epsilon_high = 0.2;
  double beta = 0.0;
  int mini_batches = 1;
  int epochs = 1;
  bool dynamic_sampling = false;
  int overlong_buffer = 0;
  double overlong_penalty = 1.0;
  int max_batch = 64;
  int rollout_ranks = 0;
  int max_staleness = 0;
  bool partial_rollouts = false;
  bool share_prompt_prefix = true;
  // Partial rollouts: the tokens a completion samples per step, ceil(max_new_tokens / max_staleness).
  int partial_segment_tokens() const {
    const int k = max_staleness > 0 ? max_staleness : 1;
    return (max_new_tokens + k - 1) / k;
  }
  RolloutCorrectionOptions rollout_correction;
  double gamma = 1.0;
  double lam = 0.95;
  double dual_clip = 0.0;
  bool kl_in_reward = false;
  CriticOptions critic;
  std::vector<RewardOptions> rewards;
  EnvironmentOptions environment;
  DpoReference reference = DpoReference::Auto;
  std::string reference_path;
  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("group_size", group_size,
            Spec("completions sampled per prompt (G); the group estimators need 2 or more, gae (PPO) takes 1").min(1));
    v.field("max_new_tokens", max_new_tokens, Spec("completion length limit").min(1));
    v.field("temperature", temperature, Spec("sampling temperature (log-probs are taken at it too, as TRL does)").gt(0));
    v.field("top_p", top_p, Spec("nucleus sampling; 1 = off").gt(0).max(1));
    v.field("top_k", top_k, Spec("top-k sampling; 0 = off").min(0));
    v.field("min_p", min_p, Spec("min-p sampling; 0 = off").min(0).lt(1));
    v.field("loss", loss,
            Spec("aggregation: grpo = per-sequence token mean, then mean over sequences; bnpo / dapo = mean over "
                 "the step's completion tokens; dr_grpo = sum / (sequences x max_new_tokens); cispo = CISPO's "
                 "objective (the importance weight capped at epsilon_high, not differentiated, x advantage x "
                 "log-prob), aggregated as dapo"));
    v.field("advantage", advantage,
            Spec("estimator: group = reward - group mean, scaled by scale_rewards (GRPO); rloo = reward - mean "
                 "of the other completions of its group; reinforce_pp = REINFORCE++ (rewards whitened over the "
                 "batch's completion tokens); reinforce_pp_baseline = the group mean subtracted first, then "
                 "whitened; gae = PPO: generalized advantage estimation (gamma, lam) against a learned critic "
                 "(the critic section), whitened over the step's completion tokens. The KL term, with beta > 0, "
                 "is in the loss (k3)"));
    v.field("scale_rewards", scale_rewards,
            Spec("advantage group: reward - group mean, divided by the group's std (group, GRPO), the batch's "
                 "(batch) or not at all (none, Dr. GRPO)"));
    v.field("importance_sampling", importance_sampling,
            Spec("token = per-token ratios (GRPO/DAPO); sequence = one length-normalized ratio per sequence (GSPO)"));
    v.field("epsilon", epsilon, Spec("lower clipping range: ratios below 1 - epsilon are clipped").gt(0).lt(1));
    v.field("epsilon_high", epsilon_high,
            Spec("upper clipping range (DAPO's clip-higher: > epsilon); loss cispo: the cap on the importance "
                 "weight (epsilon_max, above 1, e.g. 5)")
                .gt(0));
    v.field("beta", beta, Spec("KL coefficient to the reference (k3 estimator); 0 = no reference model is loaded").min(0));
    v.field("kl_in_reward", kl_in_reward,
            Spec("the KL term as a per-token reward, -beta x (log pi_old - log pi_ref) on each completion token "
                 "(k1; REINFORCE++ and classic RLHF PPO, verl's use_kl_in_reward), instead of the k3 term in the "
                 "loss; advantage gae, reinforce_pp or reinforce_pp_baseline (summed over the completion)"));
    v.field("dual_clip", dual_clip,
            Spec("dual-clip PPO: on a negative advantage the loss of a token is capped at dual_clip x |advantage| "
                 "(verl's clip_ratio_c, e.g. 3); 0 = off")
                .min(0));
    v.field("gamma", gamma, Spec("advantage gae: discount per completion token").min(0).max(1));
    v.field("lam", lam, Spec("advantage gae: GAE lambda (bias / variance trade-off)").min(0).max(1));
    v.section_if(advantage == Advantage::Gae, "critic", critic, Spec("PPO's learned value function"),
                 "when advantage is gae");
    v.field("mini_batches", mini_batches, Spec("optimizer updates per rollout batch, each over a slice of it").min(1));
    v.field("epochs", epochs, Spec("passes over each rollout batch (TRL's num_iterations)").min(1));
    v.field("dynamic_sampling", dynamic_sampling,
            Spec("drop groups whose rewards are all equal (they carry no signal; DAPO)"));
    v.field("overlong_buffer", overlong_buffer,
            Spec("DAPO soft overlong punishment: completions within this many tokens of max_new_tokens lose up to "
                 "overlong_penalty, linearly; 0 = off")
                .min(0));
    v.field("overlong_penalty", overlong_penalty, Spec("largest overlong punishment").min(0));
    v.field("max_batch", max_batch, Spec("sequences generated together (KV-cache slots)").min(1));
    v.field("rollout_ranks", rollout_ranks,
            Spec("0 = rollouts on the training ranks (colocated); N = the last N MPI ranks only generate "
                 "rollouts, with the policy's trainable weights broadcast to them from training rank 0 "
                 "before every rollout batch")
                .min(0));
    v.field("max_staleness", max_staleness,
            Spec("asynchronous RL with rollout_ranks: rollout batch n is generated with the weights of batch "
                 "max(0, n - K) while the trainers update on earlier batches, so generation and training overlap; "
                 "the schedule is fixed, so a run is reproducible and resumable. 0 = synchronous")
                .min(0));
    v.field("partial_rollouts", partial_rollouts,
            Spec("with max_staleness K >= 2: a completion is generated in segments of ceil(max_new_tokens / K) "
                 "tokens, one per step, each with the weights current at that step (every token records its "
                 "version; its log-prob is the one sampled), so a long completion never holds up a step"));
    v.field("share_prompt_prefix", share_prompt_prefix,
            Spec("the update's forward and backward passes (policy, reference, critic) read each prompt once for "
                 "all of its completions: the prompt is a document every completion sees as its prefix, not "
                 "copied into each (the same log-probs within float noise, far fewer tokens when prompts are "
                 "long); false = one whole document per completion. Off by itself for a model with dynamic RoPE"));
    v.field("rollout_correction", rollout_correction,
            Spec("importance weights between the trainer's policy and the one that sampled each token (stale "
                 "weights under max_staleness, or engine/trainer numerics)"));
    v.field("rewards", rewards,
            Spec("reward functions, weighted and summed (on the episode's last turn, added to the environment's "
                 "rewards)"));
    v.field("environment", environment, Spec("the episodes' environment (multi-turn, tools)"));
    v.field("reference", reference,
            Spec("reference for the KL term (beta > 0): model = a frozen copy of reference_path, adapters = the "
                 "policy without its LoRA adapters; auto = adapters with LoRA, else model (cached: refused)"));
    v.field("reference_path", reference_path, Spec("reference model directory; empty = model.path"));
  }
};

// Reward-model training on preference pairs (algo/reward_model.h).
struct RewardModelOptions {
  double center_coefficient = 0;
  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("center_coefficient", center_coefficient,
            Spec("adds coefficient x mean((r_chosen + r_rejected)^2), keeping rewards centred on 0 (TRL's "
                 "center_rewards_coefficient; 0 = off). A record's numeric `margin` field is subtracted inside "
                 "the sigmoid, as TRL does")
                .min(0));
  }
};

struct DistillOptions {
  std::string teacher;
  double temperature = 1.0;
  double alpha = 0.5;
  DistillLoss loss = DistillLoss::ForwardKl;
  double beta = 0.5;
  int top_k = 0;
  int chunk_tokens = 256;
  double on_policy = 0.0;
  int max_new_tokens = 128;
  int max_batch = 64;
  int rollout_ranks = 0;
  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("teacher", teacher, Spec("teacher model directory (HF format, the student's tokenizer)").req());
    v.field("temperature", temperature, Spec("softmax temperature for both distributions").gt(0));
    v.field("alpha", alpha,
            Spec("weight of the distillation term; 1 - alpha weights cross-entropy on the labels").min(0).max(1));
    v.field("loss", loss,
            Spec("forward_kl = KL(teacher || student), reverse_kl = KL(student || teacher), jsd = generalized JSD "
                 "with beta"));
    v.field("beta", beta, Spec("generalized JSD interpolation (loss: jsd); 0 = forward KL, 1 = reverse KL").min(0).max(1));
    v.field("top_k", top_k,
            Spec("compare only the teacher's top-k tokens per position (both distributions renormalized there); "
                 "0 = the whole vocabulary")
                .min(0));
    v.field("chunk_tokens", chunk_tokens,
            Spec("positions per chunk through both LM heads (peak memory ~ a few [chunk, vocab] fp32 blocks)").min(1));
    v.field("on_policy", on_policy,
            Spec("on-policy distillation (GKD's lambda): the fraction of steps whose answers the student samples "
                 "itself (at temperature, through the RL controller's rollout stage) before the teacher scores "
                 "them; the other steps use the dataset's answers. 0 = offline distillation, 1 = fully on-policy")
                .min(0)
                .max(1));
    v.field("max_new_tokens", max_new_tokens, Spec("on_policy: the student's answer length limit").min(1));
    v.field("max_batch", max_batch, Spec("on_policy: sequences generated together (KV-cache slots)").min(1));
    v.field("rollout_ranks", rollout_ranks,
            Spec("on_policy: 0 = the student samples on the training ranks; N = the last N MPI ranks only "
                 "generate, with the student's weights broadcast to them before every on-policy step")
                .min(0));
  }
};

struct AlgorithmOptions {
  Name name = Name::Sft;
  SftOptions sft;
  DpoOptions dpo;
  GrpoOptions grpo;
  DistillOptions distill;
  RewardModelOptions reward_model;
  KtoOptions kto;

  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("name", name, Spec("post-training algorithm"));
    v.section_if(name == Name::Sft, "sft", sft, Spec("SFT settings"), "when algorithm.name is sft");
    v.section_if(name == Name::Dpo, "dpo", dpo, Spec("DPO settings"), "when algorithm.name is dpo");
    v.section_if(name == Name::Grpo, "grpo", grpo, Spec("GRPO settings"), "when algorithm.name is grpo");
    v.section_if(name == Name::Distill, "distill", distill, Spec("distillation settings"),
                 "when algorithm.name is distill");
    v.section_if(name == Name::RewardModel, "reward_model", reward_model, Spec("reward-model training settings"),
                 "when algorithm.name is reward_model");
    v.section_if(name == Name::Kto, "kto", kto, Spec("KTO settings"), "when algorithm.name is kto");
  }
};

// Ranks that only generate (algorithm.<name>.rollout_ranks), their batch size, and the key's name.
inline int rollout_ranks(const AlgorithmOptions& a) {
  return a.name == Name::Grpo ? a.grpo.rollout_ranks : a.name == Name::Distill ? a.distill.rollout_ranks : 0;
}
inline int rollout_max_batch(const AlgorithmOptions& a) {
  return a.name == Name::Distill ? a.distill.max_batch : a.grpo.max_batch;
}
// PPO with its value head on the policy (critic.model: policy): the policy model carries the head.
inline bool policy_value_head(const AlgorithmOptions& a) {
  return a.name == Name::Grpo && a.grpo.advantage == Advantage::Gae && a.grpo.critic.model == CriticModel::Policy;
}
inline const char* rollout_ranks_key(const AlgorithmOptions& a) {
  return a.name == Name::Distill ? "algorithm.distill.rollout_ranks" : "algorithm.grpo.rollout_ranks";
}

}  // namespace pt::algo

PT_RECIPE_ENUM(pt::algo::Name, {pt::algo::Name::Sft, "sft"}, {pt::algo::Name::Dpo, "dpo"},
               {pt::algo::Name::Grpo, "grpo"}, {pt::algo::Name::Distill, "distill"},
               {pt::algo::Name::Classify, "classify"}, {pt::algo::Name::RewardModel, "reward_model"},
               {pt::algo::Name::Kto, "kto"})
PT_RECIPE_ENUM(pt::algo::DpoLoss, {pt::algo::DpoLoss::Sigmoid, "sigmoid"}, {pt::algo::DpoLoss::Ipo, "ipo"},
               {pt::algo::DpoLoss::Hinge, "hinge"}, {pt::algo::DpoLoss::Robust, "robust"},
               {pt::algo::DpoLoss::Simpo, "simpo"}, {pt::algo::DpoLoss::Orpo, "orpo"})
PT_RECIPE_ENUM(pt::algo::DpoReference, {pt::algo::DpoReference::Auto, "auto"}, {pt::algo::DpoReference::Model, "model"},
               {pt::algo::DpoReference::Adapters, "adapters"}, {pt::algo::DpoReference::Cached, "cached"})
PT_RECIPE_ENUM(pt::algo::ToolFormat, {pt::algo::ToolFormat::Auto, "auto"}, {pt::algo::ToolFormat::Hermes, "hermes"},
               {pt::algo::ToolFormat::Llama3, "llama3"}, {pt::algo::ToolFormat::Mistral, "mistral"})
PT_RECIPE_ENUM(pt::algo::TemplateRewrite, {pt::algo::TemplateRewrite::Refuse, "refuse"},
               {pt::algo::TemplateRewrite::KeepSampled, "keep_sampled"})
PT_RECIPE_ENUM(pt::algo::OnRewardError, {pt::algo::OnRewardError::Error, "error"},
               {pt::algo::OnRewardError::Skip, "skip"})
PT_RECIPE_ENUM(pt::algo::GrpoLoss, {pt::algo::GrpoLoss::Grpo, "grpo"}, {pt::algo::GrpoLoss::Bnpo, "bnpo"},
               {pt::algo::GrpoLoss::DrGrpo, "dr_grpo"}, {pt::algo::GrpoLoss::Dapo, "dapo"},
               {pt::algo::GrpoLoss::Cispo, "cispo"})
PT_RECIPE_ENUM(pt::algo::CriticModel, {pt::algo::CriticModel::Separate, "separate"},
               {pt::algo::CriticModel::Policy, "policy"})
PT_RECIPE_ENUM(pt::algo::Advantage, {pt::algo::Advantage::Group, "group"}, {pt::algo::Advantage::Rloo, "rloo"},
               {pt::algo::Advantage::ReinforcePP, "reinforce_pp"},
               {pt::algo::Advantage::ReinforcePPBaseline, "reinforce_pp_baseline"}, {pt::algo::Advantage::Gae, "gae"})
PT_RECIPE_ENUM(pt::algo::RewardScale, {pt::algo::RewardScale::Group, "group"}, {pt::algo::RewardScale::Batch, "batch"},
               {pt::algo::RewardScale::None, "none"})
PT_RECIPE_ENUM(pt::algo::ImportanceSampling, {pt::algo::ImportanceSampling::Token, "token"},
               {pt::algo::ImportanceSampling::Sequence, "sequence"})
PT_RECIPE_ENUM(pt::algo::CorrectionMode, {pt::algo::CorrectionMode::None, "none"},
               {pt::algo::CorrectionMode::TokenTruncate, "token_truncate"},
               {pt::algo::CorrectionMode::TokenMask, "token_mask"},
               {pt::algo::CorrectionMode::SequenceTruncate, "sequence_truncate"},
               {pt::algo::CorrectionMode::SequenceMask, "sequence_mask"})
PT_RECIPE_ENUM(pt::algo::DistillLoss, {pt::algo::DistillLoss::ForwardKl, "forward_kl"},
               {pt::algo::DistillLoss::ReverseKl, "reverse_kl"}, {pt::algo::DistillLoss::Jsd, "jsd"})
