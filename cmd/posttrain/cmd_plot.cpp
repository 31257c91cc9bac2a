#include <iostream>

#include "cmd/posttrain/commands.h"
#include "sinks/plot.h"

namespace pt::cmd {

void add_plot_command(CLI::App& app) {
  auto* sub = app.add_subcommand("plot", "Render a run's loss, learning-rate and eval curves to an SVG image");
  static std::string run_dir, out;
  sub->add_option("run_dir", run_dir, "run directory (holds metrics.jsonl)")->required();
  sub->add_option("-o,--output", out, "image path (default RUN_DIR/plot.svg)");
  sub->callback([] { std::cout << sinks::plot_run(run_dir, out) << "\n"; });
}

}  // namespace pt::cmd
