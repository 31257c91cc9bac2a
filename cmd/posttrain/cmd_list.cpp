#include <iostream>

#include "cmd/posttrain/commands.h"
#include "registry/builtins.h"

namespace pt::cmd {

void add_list_command(CLI::App& app) {
  auto* sub = app.add_subcommand("list", "List registered components (optionally of one kind) with one-line help");
  static std::string kind;
  sub->add_option("kind", kind, "component kind, e.g. architecture, algorithm, reward");
  sub->callback([] { std::cout << registry::format_listing(kind); });
}

}  // namespace pt::cmd
