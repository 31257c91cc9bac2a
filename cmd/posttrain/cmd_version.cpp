#include <iostream>

#include "cmd/posttrain/commands.h"
#include "core/version.h"

namespace pt::cmd {

void add_version_command(CLI::App& app) {
  auto* sub = app.add_subcommand("version", "Print version, torch version and compiled-in backends");
  sub->callback([] { std::cout << pt::version_report(); });
}

}  // namespace pt::cmd
