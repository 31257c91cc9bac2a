#pragma once
// The one greppable place that lists every component: architectures, attention backends, data
// formats, algorithms, optimizers, schedules, rewards.
#include <string>
#include <vector>

namespace pt::registry {

struct Listing {
  std::string kind;
  std::string name;
  std::string help;
};

// Idempotent; called by every entry point that resolves names.
void register_builtins();

// Everything registered (of one kind when `kind` is not empty); unknown kinds are an error naming the known ones.
std::vector<Listing> listing(const std::string& kind = "");
std::string format_listing(const std::string& kind = "");

}  // namespace pt::registry
