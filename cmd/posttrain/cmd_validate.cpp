#include <iostream>

#include "cmd/posttrain/commands.h"
#include "recipe/validate_files.h"

namespace pt::cmd {

void add_validate_command(CLI::App& app) {
  auto* sub = app.add_subcommand("validate", "Parse and validate recipes; print one line per recipe");
  static std::vector<std::string> files;
  sub->add_option("recipes", files, "recipe files")->required()->check(CLI::ExistingFile);
  sub->callback([] { exit_code() = recipe::validate_files(files, std::cout, std::cerr); });
}

}  // namespace pt::cmd
