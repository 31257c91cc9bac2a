#pragma once
// Where two runs' logged numbers part: the first logged step at which a loss or reward differs
// beyond a tolerance, and the largest difference from there on (`posttrain diff --metrics`).
#include <cstdint>
#include <optional>
#include <string>

namespace pt::provenance {

struct MetricsOptions {
  double tolerance = 0;  // relative: |a - b| <= tolerance * max(|a|, |b|) is equal
  std::optional<int64_t> last_step_a, last_step_b;  // a checkpoint's step: later lines are not its past
};

struct MetricsVerdict {
  int64_t common_steps = 0;  // logged steps present in both
  int64_t last_a = 0, last_b = 0;
  bool diverged = false;
  int64_t first_step = 0;  // first diverging step
  std::string first_key;
  double first_a = 0, first_b = 0;
  int64_t max_step = 0;    // largest difference at or after first_step
  std::string max_key;
  double max_a = 0, max_b = 0;
  std::string describe() const;
};

// Compares the keys that carry results: every key naming a loss or a reward, and the eval/ ones;
// throughput, time and memory are left out. Errors name the file and line.
MetricsVerdict compare_metrics(const std::string& file_a, const std::string& file_b, const MetricsOptions& opts);

// Whether a metric key carries a result (compared) rather than a speed, a time or memory.
bool is_result_metric(const std::string& key);

}  // namespace pt::provenance
