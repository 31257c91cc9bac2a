#pragma once
// Entry point of `posttrain run`: the composition root that builds tokenizer, data, model,
// parallelism, algorithm and optimizer from a resolved recipe and drives the trainer.
#include <string>
#include <vector>

#include "recipe/recipe.h"

namespace pt::train {

struct RunFlags {
  std::string resume = "auto";  // auto | never | PATH to a checkpoint directory
  bool force = false;           // resume even when the recipe diff breaks exactness
  bool dry_run = false;         // parse, validate, build what needs no data/weights, print the plan
  std::string reproduce;        // RUN_DIR of --reproduce: provenance checked against it before training
  std::vector<std::string> argv, overrides;  // the command line and its --set (provenance)
};

// Returns the process exit code (0 ok; see trainer for the requeue code after SIGTERM/SIGUSR1).
int run(const recipe::LoadedRecipe& recipe, const RunFlags& flags);

// The dry-run plan: every stage that would be built and how (no data read, no weights loaded).
std::string plan(const recipe::LoadedRecipe& recipe);

}  // namespace pt::train
