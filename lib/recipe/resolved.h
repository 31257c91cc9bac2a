#pragma once
// The resolved recipe as stored in run and checkpoint directories: recipe.yaml (canonical YAML)
// and recipe.hash. `posttrain diff` and resume read them back through load_any().
#include <string>

#include "recipe/recipe.h"

namespace pt::recipe {

inline constexpr const char* kResolvedRecipeFile = "recipe.yaml";
inline constexpr const char* kRecipeHashFile = "recipe.hash";

// Writes recipe.yaml and recipe.hash into `dir` (created if needed), each via temp file + rename.
void write_resolved(const LoadedRecipe& r, const std::string& dir);

// `path` may be a recipe file, a run directory or a checkpoint directory (anything holding
// recipe.yaml). Overrides apply only to recipe files.
LoadedRecipe load_any(const std::string& path, const std::vector<std::string>& overrides = {});

}  // namespace pt::recipe
