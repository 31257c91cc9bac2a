#pragma once
// The one greppable place that lists every component. Typed registries live here; `posttrain list`
// flattens them.
#include <string>
#include <vector>

#include "algo/algorithm.h"
#include "algo/options.h"
#include "model/arch.h"
#include "model/options.h"
#include "registry/registry.h"
#include "env/environment.h"
#include "rl/rewards.h"

namespace pt::registry {

struct Registries {
  Registry<const model::ArchSpec*> architectures{"architecture"};
  Registry<model::AttentionBackend> attention{"attention"};
  Registry<algo::AlgorithmFactory> algorithms{"algorithm"};
  Registry<rl::RewardFactory> rewards{"reward"};
  Registry<env::EnvironmentFactory> environments{"environment"};
  // GRPO-family choices (algorithm.grpo.advantage / loss), listed with what each computes.
  Registry<algo::Advantage> advantages{"advantage"};
  Registry<algo::GrpoLoss> policy_losses{"policy_loss"};
};

// Filled once by register_builtins().
Registries& registries();

struct Listing {
  std::string kind;
  std::string name;
  std::string help;
};

// Idempotent; called by every entry point that resolves names.
void register_builtins();

// The registered reward named o.name, built from its options (what the RL stages hand the reward set).
std::unique_ptr<rl::RewardFunction> make_reward(const algo::RewardOptions& o);

// The registered environment named o.name.
std::unique_ptr<env::Environment> make_environment(const algo::EnvironmentOptions& o);

// Everything registered (of one kind when `kind` is not empty); unknown kinds are an error naming the known ones.
std::vector<Listing> listing(const std::string& kind = "");
std::string format_listing(const std::string& kind = "");

}  // namespace pt::registry
