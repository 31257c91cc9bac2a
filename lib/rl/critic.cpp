#include "rl/critic.h"

#include <filesystem>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>
#include <torch/nn/utils/clip_grad.h>

#include "core/error.h"
#include "core/log.h"
#include "parallel/comm.h"
#include "parallel/data_parallel.h"
#include "parallel/world.h"
#include "recipe/recipe.h"

namespace pt::rl {

using namespace pt::algo;  // the algorithm contract and the loss functions this stage drives
namespace fs = std::filesystem;

Critic::Critic(const CriticOptions& o, const Context& ctx, const std::string& policy_path) : o_(o), ctx_(ctx) {
  const auto& R = ctx.recipe->recipe;
  model::ModelOptions mo = R.model;
  mo.path = o.path.empty() ? policy_path : o.path;
  mo.lora.reset();
  mo.init.reset();
  mo.head.type = model::HeadType::TokenClassification;
  mo.head.num_labels = 1;
  model_ = model::CausalLM::from_pretrained(mo, ctx.device);
  if (model_->vocab_size() != ctx.policy->vocab_size())
    fail("algorithm.grpo.critic.path {}: vocab_size {} but the policy's is {} (the critic reads the policy's tokens)",
         mo.path, model_->vocab_size(), ctx.policy->vocab_size());
  model_->train(false);  // no head dropout: values are deterministic, as the rollout's were
  const auto& world = *ctx.world;
  optim::OptimizerOptions oo = R.optimizer;
  oo.lr = o.lr;
  if (world.size() > 1) {
    std::vector<parallel::TrainableParam> params;
    for (auto& [n, p] : model_->named_parameters(true)) params.push_back({n, p, model_->is_decay_param(n)});
    parallel::ParallelOptions po = R.parallel;
    po.strategy = parallel::Strategy::Ddp;  // the critic is replicated whatever the policy's strategy
    std::shared_ptr<parallel::Comm> comm = parallel::make_comm(R.parallel.backend, ctx.device);
    dp_ = std::make_unique<parallel::DataParallel>(std::move(params), comm, po);
    opt_ = optim::make_optimizer(oo, dp_->optimizer_params(true), dp_->optimizer_params(false));
  } else {
    opt_ = optim::make_optimizer(oo, *model_);
  }
  for (auto& [n, p] : model_->named_parameters(true)) params_.push_back(p);
  log::info("ppo: critic = {} with a value head ({} parameters), lr {}", mo.path, model_->config().num_parameters(true),
            o.lr);
}

Critic::~Critic() = default;

at::Tensor Critic::values(const MicroBatch& mb) {
  at::Tensor idx = labelled_positions(mb);
  at::Tensor h = model_->hidden_states(mb.input).index_select(0, idx);
  return model_->token_score_logits(h).select(1, 0);
}

void Critic::zero_grad() {
  if (dp_) dp_->zero_grad();
  else opt_.adamw->zero_grad();
}

void Critic::begin_backward(bool last) {
  if (dp_) dp_->begin_backward(last);
}

void Critic::end_backward() {
  if (dp_) dp_->end_backward();
}

double Critic::step() {
  const double lr = o_.lr_warmup_steps > 0 ? o_.lr * std::min(1.0, static_cast<double>(updates_ + 1) / o_.lr_warmup_steps)
                                           : o_.lr;
  opt_.set_lr(lr);
  double norm = 0;
  if (dp_) {
    dp_->finish();
    norm = dp_->clip_grad_norm(o_.max_grad_norm);
  } else {
    norm = torch::nn::utils::clip_grad_norm_(
        params_, o_.max_grad_norm > 0 ? o_.max_grad_norm : std::numeric_limits<double>::infinity());
  }
  opt_.adamw->step();
  if (dp_) dp_->after_step();
  ++updates_;
  return norm;
}

// Every training rank holds the same critic: the main rank writes, every rank reads.
void Critic::save_state(const std::string& dir) const {
  if (!ctx_.world->is_main()) return;
  model_->save_state((fs::path(dir) / "critic.safetensors").string());
  opt_.save((fs::path(dir) / "critic_optimizer.pt").string());
  std::ofstream((fs::path(dir) / "critic.json").string()) << nlohmann::json{{"updates", updates_}}.dump() << "\n";
}

void Critic::load_state(const std::string& dir) {
  const fs::path meta = fs::path(dir) / "critic.json";
  if (dir.empty() || !fs::exists(meta))
    fail("checkpoint {} has no critic state ({}): it was not written by a PPO run (advantage gae)", dir,
         meta.string());
  std::ifstream in(meta.string());
  nlohmann::json j;
  try {
    in >> j;
    updates_ = j.at("updates").get<int64_t>();
  } catch (const std::exception& e) {
    fail("{}: cannot read the critic's update count: {}", meta.string(), e.what());
  }
  model_->load_state((fs::path(dir) / "critic.safetensors").string());
  opt_.load((fs::path(dir) / "critic_optimizer.pt").string());
}

}  // namespace pt::rl
