#pragma once
// Checks of an RL environment's options from the recipe alone (validate and --dry-run refuse what the
// run would): each option only where the chosen environment reads it; environment.tools well formed.
#include <functional>
#include <string>
#include <vector>

#include "algo/options.h"

namespace pt::recipe {

// `keys`: the offending key under the environment section ({"tools", "1", "command"}).
using EnvRefuse = std::function<void(const std::vector<std::string>& keys, const std::string& why)>;
void check_environment(const algo::EnvironmentOptions& e, const EnvRefuse& refuse);

}  // namespace pt::recipe
