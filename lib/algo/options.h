#pragma once
// Recipe section `algorithm`: `name` selects the algorithm; only its own subsection is allowed.
#include <string>
#include <vector>

#include "recipe/fields.h"

namespace pt::algo {

enum class Name { Sft, Dpo, Grpo, Distill };
enum class DpoLoss { Sigmoid, Ipo, Hinge };
enum class DistillLoss { ForwardKl, ReverseKl };

struct SftOptions {
  bool average_tokens_across_ranks = true;
  template <class V>
  void visit(V& v) {
    v.field("average_tokens_across_ranks", average_tokens_across_ranks,
            recipe::Spec("normalize the loss by the global trained-token count of the step (not per micro-batch)"));
  }
};

struct DpoOptions {
  double beta = 0.1;
  DpoLoss loss = DpoLoss::Sigmoid;
  double label_smoothing = 0.0;
  std::string reference;  // "" = model.path
  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("beta", beta, Spec("strength of the implicit KL constraint").gt(0));
    v.field("loss", loss, Spec("preference loss"));
    v.field("label_smoothing", label_smoothing, Spec("conservative DPO label smoothing").min(0).lt(0.5));
    v.field("reference", reference, Spec("reference model directory; empty = model.path (frozen copy)"));
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
  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("teacher", teacher, Spec("teacher model directory").req());
    v.field("temperature", temperature, Spec("softmax temperature for both distributions").gt(0));
    v.field("alpha", alpha, Spec("weight of the distillation term; 1 - alpha weights plain cross-entropy").min(0).max(1));
    v.field("loss", loss, Spec("divergence"));
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
               {pt::algo::DpoLoss::Hinge, "hinge"})
PT_RECIPE_ENUM(pt::algo::DistillLoss, {pt::algo::DistillLoss::ForwardKl, "forward_kl"},
               {pt::algo::DistillLoss::ReverseKl, "reverse_kl"})
