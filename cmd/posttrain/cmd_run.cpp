#include <iostream>

#include "cmd/posttrain/commands.h"
#include "recipe/resolved.h"
#include "train/reproduce.h"
#include "train/run.h"

namespace pt::cmd {

void add_run_command(CLI::App& app) {
  auto* sub = app.add_subcommand("run", "Run a recipe (SFT, DPO, GRPO, distillation)");
  static std::string path;
  static std::vector<std::string> sets;
  static train::RunFlags flags;
  // A missing file is reported by the recipe loader (exit 2, like every other recipe error).
  auto* recipe_opt = sub->add_option("recipe", path, "recipe file");
  sub->add_option("--reproduce", flags.reproduce,
                  "re-run the run recorded in RUN_DIR (its resolved recipe, as RUN_DIR-reproduce) after checking "
                  "that build, environment, launch and every input match its provenance; refused with the "
                  "differences listed unless --force")
      ->excludes(recipe_opt)
      ->check(CLI::ExistingDirectory);
  sub->add_option("--set", sets, "override: key.path=value (repeatable), type-checked against the schema");
  sub->add_flag("--dry-run", flags.dry_run, "parse, validate, build what needs no data or weights, print the plan");
  sub->add_option("--resume", flags.resume, "auto (newest complete checkpoint), never, or a checkpoint path")
      ->capture_default_str();
  sub->add_flag("--force", flags.force,
                "resume even if the recipe changed in a way that breaks exactness; --reproduce despite differences");
  sub->callback([] {
    if (path.empty() && flags.reproduce.empty()) throw CLI::RequiredError("recipe (or --reproduce RUN_DIR)");
    if (!flags.reproduce.empty() && !sets.empty())
      throw CLI::ValidationError("--set", "--reproduce re-runs the recorded recipe as it was; --set does not apply");
    flags.argv = command_line();
    flags.overrides = sets;
    auto r = flags.reproduce.empty() ? recipe::load_recipe(path, sets) : train::reproduction_recipe(flags.reproduce);
    exit_code() = train::run(r, flags);
  });
}

}  // namespace pt::cmd
