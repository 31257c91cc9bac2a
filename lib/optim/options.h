#pragma once
// Recipe sections `optimizer` and `schedule`.
#include <string>
#include <vector>

#include "recipe/fields.h"

namespace pt::optim {

enum class ScheduleName { Constant, Linear, Cosine };

struct OptimizerOptions {
  std::string name = "adamw";
  double lr = 2e-5;
  double weight_decay = 0.0;
  std::vector<double> betas{0.9, 0.999};
  double eps = 1e-8;

  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("name", name, Spec("optimizer (posttrain list optimizer)"));
    v.field("lr", lr, Spec("peak learning rate").gt(0).max(10));
    v.field("weight_decay", weight_decay, Spec("decoupled weight decay; never applied to norms, biases").min(0));
    v.field("betas", betas, Spec("Adam betas [beta1, beta2]").min(0).lt(1));
    v.field("eps", eps, Spec("Adam epsilon").gt(0));
  }
};

struct ScheduleOptions {
  ScheduleName name = ScheduleName::Cosine;
  int warmup_steps = 0;
  double min_lr_ratio = 0.0;

  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("name", name, Spec("learning-rate schedule after warmup"));
    v.field("warmup_steps", warmup_steps, Spec("linear warmup from 0 to lr").min(0));
    v.field("min_lr_ratio", min_lr_ratio, Spec("final lr as a fraction of lr (linear, cosine)").min(0).max(1));
  }
};

}  // namespace pt::optim

PT_RECIPE_ENUM(pt::optim::ScheduleName, {pt::optim::ScheduleName::Constant, "constant"},
               {pt::optim::ScheduleName::Linear, "linear"}, {pt::optim::ScheduleName::Cosine, "cosine"})
