#pragma once
// Recipe section `algorithm`: `name` selects the algorithm; only its own subsection is allowed.
#include <string>
#include <vector>

#include "recipe/fields.h"

namespace pt::algo {

enum class Name { Sft, Dpo, Grpo, Distill };
enum class DpoLoss { Sigmoid, Ipo, Hinge, Robust, Simpo };
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
    v.field("beta", beta, Spec("strength of the implicit KL constraint (SimPO: reward scale)").gt(0));
    v.field("loss", loss,
            Spec("sigmoid = DPO (with label_smoothing: conservative DPO), ipo, hinge, robust (unbiased under label "
                 "noise), simpo (reference-free, length-normalized)"));
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

struct RewardOptions {
  std::string name;
  double weight = 1.0;
  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("name", name, Spec("registered reward function (posttrain list reward)").req());
    v.field("weight", weight, Spec("weight in the summed reward"));
  }
};

struct GrpoOptions {
  int group_size = 8;
  int max_new_tokens = 256;
  double temperature = 1.0;
  double top_p = 1.0;
  double kl_beta = 0.04;
  double clip_eps = 0.2;
  std::vector<RewardOptions> rewards;
  std::string reference;
  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("group_size", group_size, Spec("completions sampled per prompt").min(2));
    v.field("max_new_tokens", max_new_tokens, Spec("rollout length limit").min(1));
    v.field("temperature", temperature, Spec("sampling temperature").gt(0));
    v.field("top_p", top_p, Spec("nucleus sampling").gt(0).max(1));
    v.field("kl_beta", kl_beta, Spec("KL penalty to the reference policy").min(0));
    v.field("clip_eps", clip_eps, Spec("PPO-style ratio clipping").gt(0));
    v.field("rewards", rewards, Spec("reward functions"));
    v.field("reference", reference, Spec("reference model directory; empty = model.path"));
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
  }
};

struct AlgorithmOptions {
  Name name = Name::Sft;
  SftOptions sft;
  DpoOptions dpo;
  GrpoOptions grpo;
  DistillOptions distill;

  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("name", name, Spec("post-training algorithm"));
    v.section_if(name == Name::Sft, "sft", sft, Spec("SFT settings"), "when algorithm.name is sft");
    v.section_if(name == Name::Dpo, "dpo", dpo, Spec("DPO settings"), "when algorithm.name is dpo");
    v.section_if(name == Name::Grpo, "grpo", grpo, Spec("GRPO settings"), "when algorithm.name is grpo");
    v.section_if(name == Name::Distill, "distill", distill, Spec("distillation settings"),
                 "when algorithm.name is distill");
  }
};

}  // namespace pt::algo

PT_RECIPE_ENUM(pt::algo::Name, {pt::algo::Name::Sft, "sft"}, {pt::algo::Name::Dpo, "dpo"},
               {pt::algo::Name::Grpo, "grpo"}, {pt::algo::Name::Distill, "distill"})
PT_RECIPE_ENUM(pt::algo::DpoLoss, {pt::algo::DpoLoss::Sigmoid, "sigmoid"}, {pt::algo::DpoLoss::Ipo, "ipo"},
               {pt::algo::DpoLoss::Hinge, "hinge"}, {pt::algo::DpoLoss::Robust, "robust"},
               {pt::algo::DpoLoss::Simpo, "simpo"})
PT_RECIPE_ENUM(pt::algo::DpoReference, {pt::algo::DpoReference::Auto, "auto"}, {pt::algo::DpoReference::Model, "model"},
               {pt::algo::DpoReference::Adapters, "adapters"}, {pt::algo::DpoReference::Cached, "cached"})
PT_RECIPE_ENUM(pt::algo::DistillLoss, {pt::algo::DistillLoss::ForwardKl, "forward_kl"},
               {pt::algo::DistillLoss::ReverseKl, "reverse_kl"}, {pt::algo::DistillLoss::Jsd, "jsd"})
