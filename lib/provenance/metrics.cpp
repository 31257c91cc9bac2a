#include "provenance/metrics.h"

#include <cmath>
#include <fstream>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace pt::provenance {
using nlohmann::json;

namespace {

using Steps = std::map<int64_t, json>;

Steps read_metrics(const std::string& file, std::optional<int64_t> last) {
  std::ifstream in(file);
  if (!in) fail("{}: cannot open (diff --metrics needs the runs' metrics.jsonl; logging.metrics_jsonl: true)", file);
  Steps out;
  int line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.empty()) continue;
    json j;
    try {
      j = json::parse(line);
    } catch (const std::exception& e) {
      if (in.peek() == EOF) break;  // a line cut by a kill in mid-write
      fail("{}:{}: not a JSON metrics line: {}", file, line_no, e.what());
    }
    if (!j.contains("step") || !j["step"].is_number_integer()) fail("{}:{}: no integer \"step\"", file, line_no);
    const int64_t step = j["step"].get<int64_t>();
    if (last && step > *last) continue;
    out[step].update(j);  // an eval line and a train line of one step merge
  }
  return out;
}

double rel_diff(double a, double b) {
  if (a == b || (std::isnan(a) && std::isnan(b))) return 0;
  const double scale = std::max(std::fabs(a), std::fabs(b));
  return scale > 0 && std::isfinite(scale) ? std::fabs(a - b) / scale : INFINITY;
}

}  // namespace

bool is_result_metric(const std::string& key) {
  auto ends = [&](const char* x) {
    const std::string t(x);
    return key.size() >= t.size() && key.compare(key.size() - t.size(), t.size(), t) == 0;
  };
  if (key.rfind("time/", 0) == 0 || ends("_s") || key.find("per_s") != std::string::npos ||
      key.find("mfu") != std::string::npos || key.find("memory") != std::string::npos)
    return false;
  return key.find("loss") != std::string::npos || key.find("reward") != std::string::npos || key.rfind("eval/", 0) == 0;
}

MetricsVerdict compare_metrics(const std::string& file_a, const std::string& file_b, const MetricsOptions& opts) {
  const Steps a = read_metrics(file_a, opts.last_step_a), b = read_metrics(file_b, opts.last_step_b);
  MetricsVerdict v;
  v.last_a = a.empty() ? 0 : a.rbegin()->first;
  v.last_b = b.empty() ? 0 : b.rbegin()->first;
  double worst = -1;
  for (const auto& [step, ja] : a) {
    auto it = b.find(step);
    if (it == b.end()) continue;
    ++v.common_steps;
    for (const auto& [key, va] : ja.items()) {
      if (!va.is_number() || !is_result_metric(key) || !it->second.contains(key) || !it->second[key].is_number())
        continue;
      const double x = va.get<double>(), y = it->second[key].get<double>(), d = rel_diff(x, y);
      if (d <= opts.tolerance) continue;
      if (!v.diverged) {
        v.diverged = true;
        v.first_step = step, v.first_key = key, v.first_a = x, v.first_b = y;
      }
      if (d > worst) {
        worst = d;
        v.max_step = step, v.max_key = key, v.max_a = x, v.max_b = y;
      }
    }
  }
  return v;
}

std::string MetricsVerdict::describe() const {
  std::string s;
  if (common_steps == 0) return "no logged step in common (A up to step " + std::to_string(last_a) + ", B up to " +
                                std::to_string(last_b) + ")\n";
  if (!diverged) {
    s = fmt::format("losses and rewards equal at all {} logged steps in common", common_steps);
  } else {
    s = fmt::format("first diverging logged step: {} ({} {} -> {})\nlargest difference from there: step {} ({} {} -> {})",
                    first_step, first_key, first_a, first_b, max_step, max_key, max_a, max_b);
  }
  if (last_a != last_b) s += fmt::format("\nA logged up to step {}, B up to step {}", last_a, last_b);
  return s + "\n";
}

}  // namespace pt::provenance
