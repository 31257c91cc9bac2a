#pragma once
// `posttrain run --reproduce RUN_DIR`: the recorded run's resolved recipe under a new run name, and
// the check that this build, environment, launch and these inputs are the ones it recorded.
#include <string>

#include <nlohmann/json.hpp>

#include "recipe/recipe.h"

namespace pt::train {

// RUN_DIR's resolved recipe (paths as resolved then, relative to its working directory) with
// run.name set to "<name>-reproduce" (or -reproduce-2, ... : a directory that does not exist yet).
recipe::LoadedRecipe reproduction_recipe(const std::string& run_dir);

// Compares `current` (a provenance record; with or without "inputs") with every record of RUN_DIR
// and fails with the differences that can change results, unless `force` (then it warns).
// `inputs`: compare the inputs (else only build, environment and launch).
void check_reproduction(const std::string& run_dir, const nlohmann::json& current, bool inputs, bool force);

}  // namespace pt::train
