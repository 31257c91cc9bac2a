#pragma once
// `posttrain plot RUN_DIR`: loss / learning-rate (and eval accuracy) curves of a run's
// metrics.jsonl as one SVG image, readable in any browser without a plotting stack.
#include <string>

namespace pt::sinks {

// Writes `out` (default RUN_DIR/plot.svg) and returns its path.
std::string plot_run(const std::string& run_dir, const std::string& out = "");

}  // namespace pt::sinks
