// The composition root of `posttrain run`.
#include "train/run.h"

#include <iostream>

#include "core/log.h"
#include "recipe/resolved.h"
#include "registry/builtins.h"

namespace pt::train {

int run(const recipe::LoadedRecipe& loaded, const RunFlags& flags) {
  registry::register_builtins();
  log::set_level(loaded.recipe.logging.level);
  if (flags.dry_run) {
    std::cout << plan(loaded);
    std::cout << "dry run: nothing trained, nothing written\n";
    return 0;
  }
  // Written before anything else so that a run directory always says what produced it.
  recipe::write_resolved(loaded, loaded.recipe.run_dir());
  log::info("resolved recipe written to {}/{} (hash {})", loaded.recipe.run_dir(), recipe::kResolvedRecipeFile,
            loaded.hash);
  const auto& algo_name = recipe::enum_name(loaded.recipe.algorithm.name);
  fail("algorithm '{}' cannot run yet: the training loop is not part of this build (use --dry-run)", algo_name);
}

}  // namespace pt::train
