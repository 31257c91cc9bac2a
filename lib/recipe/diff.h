#pragma once
// Semantic diff of two resolved recipes, grouped by top-level section. Used by `posttrain diff`
// and by resume, which refuses a recipe whose changes would break exact resumption.
#include <string>
#include <vector>

#include "recipe/node.h"

namespace pt::recipe {

struct Change {
  enum class Kind { Added, Removed, Changed };
  Kind kind;
  std::string path;      // "optimizer.lr", "data.sources[0].weight"
  std::string old_value; // flow-style YAML; empty when Added
  std::string new_value; // empty when Removed
  std::string section() const;  // first path component
};

std::vector<Change> diff(const Node& a, const Node& b);

// Human-readable, grouped by section:
//   optimizer:
//     ~ lr: 2.0e-05 -> 1.0e-04
//     + foo: 1
std::string format_diff(const std::vector<Change>& changes, bool color = false);

// Changes that still allow an exact resume (logging, checkpoint cadence, eval cadence, run name and
// output dir). Everything else changes the math or the data order.
bool is_resume_safe(const Change& c);

// Changes that cannot change a run's numbers: the resume-safe keys that only name or place a run or
// set a cadence (logging, checkpoints, evaluation, prefetch), not the parallel layout (which reorders
// floating-point sums). `posttrain diff` shows them without counting them as differences.
bool cannot_change_results(const Change& c);

}  // namespace pt::recipe
