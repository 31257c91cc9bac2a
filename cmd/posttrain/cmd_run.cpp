#include <iostream>

#include "cmd/posttrain/commands.h"
#include "recipe/resolved.h"
#include "train/run.h"

namespace pt::cmd {

void add_run_command(CLI::App& app) {
  auto* sub = app.add_subcommand("run", "Run a recipe (SFT, DPO, GRPO, distillation)");
  static std::string path;
  static std::vector<std::string> sets;
  static train::RunFlags flags;
  sub->add_option("recipe", path, "recipe file")->required()->check(CLI::ExistingFile);
  sub->add_option("--set", sets, "override: key.path=value (repeatable), type-checked against the schema");
  sub->add_flag("--dry-run", flags.dry_run, "parse, validate, build what needs no data or weights, print the plan");
  sub->add_option("--resume", flags.resume, "auto (newest complete checkpoint), never, or a checkpoint path")
      ->capture_default_str();
  sub->add_flag("--force", flags.force, "resume even if the recipe changed in a way that breaks exactness");
  sub->callback([] {
    auto r = recipe::load_recipe(path, sets);
    exit_code() = train::run(r, flags);
  });
}

}  // namespace pt::cmd
