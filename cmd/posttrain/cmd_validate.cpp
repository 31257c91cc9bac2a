#include <iostream>

#include "cmd/posttrain/commands.h"
#include "recipe/validate_files.h"

namespace pt::cmd {

void add_validate_command(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "validate", "Parse and validate recipes (as `run` and `run --dry-run` would); one line per recipe, exit 1 if any "
                  "is invalid");
  static std::vector<std::string> files, sets;
  // Not CLI::ExistingFile: a missing file is one more invalid recipe, reported on its line.
  sub->add_option("recipes", files, "recipe files")->required();
  sub->add_option("--set", sets, "override: key.path=value (repeatable), applied to every recipe, as `run --set`");
  sub->callback([] { exit_code() = recipe::validate_files(files, std::cout, std::cerr, sets); });
}

}  // namespace pt::cmd
