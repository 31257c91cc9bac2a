#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "cmd/posttrain/commands.h"
#include "provenance/compare.h"
#include "provenance/metrics.h"
#include "provenance/store.h"
#include "recipe/diff.h"
#include "recipe/resolved.h"

namespace pt::cmd {
namespace {

struct DiffFlags {
  std::string a, b;
  bool recipe_only = false, metrics = false;
  double tolerance = 0;
};

// Recipe differences: those that can change results, then those shown only. Returns the count.
size_t print_recipe_diff(const recipe::LoadedRecipe& ra, const recipe::LoadedRecipe& rb, bool color) {
  std::vector<recipe::Change> counted, shown;
  const auto changes = recipe::diff(ra.resolved, rb.resolved);
  if (changes.empty()) std::cout << "recipes identical\n";
  for (const auto& c : changes)
    (recipe::cannot_change_results(c) ? shown : counted).push_back(c);
  if (!counted.empty()) std::cout << "recipe:\n" << recipe::format_diff(counted, color);
  if (!shown.empty())
    std::cout << "recipe, not counted (names, places and cadences only):\n" << recipe::format_diff(shown, color);
  return counted.size();
}

// Provenance differences between the last records (and the first ones, where a side was resumed).
size_t print_provenance_diff(const provenance::RunRecords& a, const provenance::RunRecords& b, bool color) {
  if (a.records.empty() || b.records.empty()) {
    std::cout << "provenance: not compared: " << (a.records.empty() ? a.dir : b.dir) << " has no "
              << provenance::kFile << " (a run from before provenance records)\n";
    return 0;
  }
  auto diffs = provenance::compare(a.records.back(), b.records.back());
  if (a.records.size() > 1 || b.records.size() > 1)
    for (auto d : provenance::compare(a.records.front(), b.records.front())) {
      d.key += " (at the start)";
      bool seen = false;
      for (const auto& x : diffs) seen = seen || (x.key + " (at the start)" == d.key && x.a == d.a && x.b == d.b);
      if (!seen) diffs.push_back(d);
    }
  std::cout << provenance::format(diffs, color);
  return provenance::counting(diffs);
}

bool print_metrics_diff(const provenance::RunRecords& a, const provenance::RunRecords& b, double tolerance) {
  provenance::MetricsOptions o;
  o.tolerance = tolerance;
  o.last_step_a = a.checkpoint_step;
  o.last_step_b = b.checkpoint_step;
  const auto v = provenance::compare_metrics(a.metrics_file(), b.metrics_file(), o);
  std::cout << "metrics (tolerance " << tolerance << "):\n" << v.describe();
  return v.diverged;
}

int diff_main(const DiffFlags& f) {
  const bool color = isatty(STDOUT_FILENO);
  auto ra = recipe::load_any(f.a);
  auto rb = recipe::load_any(f.b);
  std::cout << "--- " << f.a << " (recipe hash " << ra.hash << ")\n+++ " << f.b << " (recipe hash " << rb.hash << ")\n";
  if (f.recipe_only) {
    auto changes = recipe::diff(ra.resolved, rb.resolved);
    if (changes.empty()) std::cout << "recipes identical\n";
    std::cout << recipe::format_diff(changes, color);
    return changes.empty() ? 0 : 1;
  }
  size_t counted = print_recipe_diff(ra, rb, color);
  const bool dirs = std::filesystem::is_directory(f.a) && std::filesystem::is_directory(f.b);
  if (!dirs && f.metrics) throw CLI::ValidationError("--metrics", "compares run or checkpoint directories");
  bool diverged = false;
  if (dirs) {
    const auto pa = provenance::load_run(f.a), pb = provenance::load_run(f.b);
    counted += print_provenance_diff(pa, pb, color);
    if (f.metrics) diverged = print_metrics_diff(pa, pb, f.tolerance);
  }
  std::cout << (counted == 0 ? "no difference that can change results"
                             : std::to_string(counted) + " difference" + (counted == 1 ? "" : "s") +
                                   " that can change results")
            << (diverged ? "; the logged metrics diverge" : "") << "\n";
  return counted == 0 && !diverged ? 0 : 1;
}

}  // namespace

void add_diff_command(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "diff",
      "Why two runs differ. Compares, in this order: the resolved recipes; for run or checkpoint directories "
      "also their provenance (provenance.jsonl): code and build (posttrain commit, compiler, torch/CUDA/NCCL/MPI), "
      "environment (CPU, GPUs, threads, numerics settings), launch (world size, data/tensor-parallel and rollout "
      "ranks, hosts) and inputs (every data file, model, tokenizer, reference/teacher/reward model and reward "
      "command, by content hash); with --metrics, the first logged step where losses or rewards differ. Run "
      "names, output directories, logging/checkpoint/eval cadence, host names, file times and the command line "
      "are shown but do not count. Exit 0: nothing that can change results differs; 1: something does");
  static DiffFlags f;
  sub->add_option("a", f.a, "recipe file, run directory or checkpoint directory")->required();
  sub->add_option("b", f.b, "recipe file, run directory or checkpoint directory")->required();
  sub->add_flag("--recipe-only", f.recipe_only, "compare the resolved recipes only, every key counting (for scripts)");
  sub->add_flag("--metrics", f.metrics, "also compare the runs' metrics.jsonl: first diverging logged step");
  sub->add_option("--tolerance", f.tolerance, "relative tolerance of --metrics (0: exactly as logged)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->callback([] { exit_code() = diff_main(f); });
}

}  // namespace pt::cmd
