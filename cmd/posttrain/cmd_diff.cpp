#include <unistd.h>

#include <iostream>

#include "cmd/posttrain/commands.h"
#include "recipe/diff.h"
#include "recipe/resolved.h"

namespace pt::cmd {

void add_diff_command(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "diff", "Semantic diff of two resolved recipes (files, run or checkpoint dirs); exit 0 equal, 1 different");
  static std::string a, b;
  sub->add_option("a", a, "recipe file, run directory or checkpoint directory")->required();
  sub->add_option("b", b, "recipe file, run directory or checkpoint directory")->required();
  sub->callback([] {
    auto ra = recipe::load_any(a);
    auto rb = recipe::load_any(b);
    auto changes = recipe::diff(ra.resolved, rb.resolved);
    if (changes.empty()) {
      std::cout << "identical (hash " << ra.hash << ")\n";
      exit_code() = 0;
      return;
    }
    std::cout << "--- " << a << " (hash " << ra.hash << ")\n+++ " << b << " (hash " << rb.hash << ")\n";
    std::cout << recipe::format_diff(changes, isatty(STDOUT_FILENO));
    std::cout << changes.size() << " difference" << (changes.size() == 1 ? "" : "s") << "\n";
    exit_code() = 1;
  });
}

}  // namespace pt::cmd
