#pragma once
// PPO's critic: a model of the policy's family with a one-output token head (a value per position,
// saved as *ForTokenClassification with num_labels 1), its own AdamW and learning rate, and its
// gradients summed over the training ranks (a replicated, ddp-style copy on each). The algorithm
// drives it: values() of the rollout's sequences, then per update zero_grad(), backward of the
// value loss, step(). Its weights, optimizer and update count are part of the run's checkpoints.
#include <memory>
#include <string>

#include <ATen/ATen.h>

#include "algo/algorithm.h"
#include "algo/options.h"
#include "optim/adamw.h"

namespace pt::parallel {
class DataParallel;
}

namespace pt::rl {

class Critic {
 public:
  // `policy_path`: where the critic starts when critic.path is empty.
  Critic(const algo::CriticOptions& o, const algo::Context& ctx, const std::string& policy_path);
  ~Critic();
  // The value of the state before each labelled token is generated: the head's output at the
  // labelled positions (which are the positions predicting those tokens), [labels] fp32.
  at::Tensor values(const algo::MicroBatch& mb);
  void zero_grad();
  // Around one micro-batch's backward (ranks reduce gradients in buckets meanwhile).
  void begin_backward(bool last);
  void end_backward();
  // Gradients complete and clipped, one AdamW step at the warm-up learning rate; the norm.
  double step();
  int64_t updates() const { return updates_; }
  model::CausalLM& model() { return *model_; }
  void save_state(const std::string& dir) const;
  void load_state(const std::string& dir);

 private:
  algo::CriticOptions o_;
  algo::Context ctx_;
  std::unique_ptr<model::CausalLM> model_;
  std::unique_ptr<parallel::DataParallel> dp_;
  optim::Optimizer opt_;
  std::vector<at::Tensor> params_;
  int64_t updates_ = 0;
};

}  // namespace pt::rl
