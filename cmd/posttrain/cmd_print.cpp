#include <iostream>

#include "cmd/posttrain/commands.h"
#include "recipe/resolved.h"

namespace pt::cmd {

void add_print_command(CLI::App& app) {
  auto* sub = app.add_subcommand("print", "Print the fully resolved canonical recipe (defaults, bases, --set)");
  static std::string path;
  static std::vector<std::string> sets;
  static bool hash_only = false;
  sub->add_option("recipe", path, "recipe file, run directory or checkpoint directory")->required();
  sub->add_option("--set", sets, "override: key.path=value (repeatable)");
  sub->add_flag("--hash", hash_only, "print only the content hash");
  sub->callback([] {
    auto r = recipe::load_any(path, sets);
    if (hash_only) std::cout << r.hash << "\n";
    else std::cout << "# hash " << r.hash << "\n" << r.canonical_yaml;
  });
}

}  // namespace pt::cmd
