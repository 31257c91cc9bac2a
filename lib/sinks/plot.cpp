#include "sinks/plot.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace pt::sinks {
namespace {

using Series = std::vector<std::pair<double, double>>;  // (step, value)

struct Panel {
  std::string title;
  std::vector<std::pair<std::string, const Series*>> lines;
};

std::string num(double v) {
  if (v == 0) return "0";
  double a = std::abs(v);
  if (a >= 1e4 || a < 1e-3) return fmt::format("{:.1e}", v);
  return fmt::format("{:.4g}", v);
}

// "Nice" tick step: 1, 2 or 5 times a power of ten, about `n` ticks over the range.
double tick_step(double range, int n) {
  double raw = range / n, p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * p) return m * p;
  return 10 * p;
}

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) o += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
  return o;
}

void draw(std::string& svg, const Panel& p, double x0, double y0, double w, double h) {
  const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd"};
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (const auto& [name, s] : p.lines)
    for (const auto& [x, y] : *s) {
      if (!std::isfinite(y)) continue;
      xmin = std::min(xmin, x), xmax = std::max(xmax, x), ymin = std::min(ymin, y), ymax = std::max(ymax, y);
    }
  if (!std::isfinite(xmin)) return;
  if (xmax == xmin) xmax = xmin + 1;
  if (ymax == ymin) ymax = ymin + (ymin == 0 ? 1 : std::abs(ymin) * 0.1);
  const double L = 70, R = 20, T = 30, B = 45;
  const double pw = w - L - R, ph = h - T - B;
  auto X = [&](double x) { return x0 + L + (x - xmin) / (xmax - xmin) * pw; };
  auto Y = [&](double y) { return y0 + T + (1 - (y - ymin) / (ymax - ymin)) * ph; };
  svg += fmt::format("<text x='{}' y='{}' font-size='15' font-weight='bold'>{}</text>\n", x0 + L, y0 + 20, esc(p.title));
  svg += fmt::format("<rect x='{}' y='{}' width='{}' height='{}' fill='none' stroke='#444'/>\n", x0 + L, y0 + T, pw, ph);
  double ys = tick_step(ymax - ymin, 5);
  for (double t = std::ceil(ymin / ys) * ys; t <= ymax + 1e-12 * std::abs(ymax); t += ys) {
    svg += fmt::format("<line x1='{}' y1='{:.1f}' x2='{}' y2='{:.1f}' stroke='#ddd'/>", x0 + L, Y(t), x0 + L + pw, Y(t));
    svg += fmt::format("<text x='{}' y='{:.1f}' font-size='11' text-anchor='end'>{}</text>\n", x0 + L - 5, Y(t) + 4, num(t));
  }
  double xs = tick_step(xmax - xmin, 6);
  for (double t = std::ceil(xmin / xs) * xs; t <= xmax + 1e-9; t += xs)
    svg += fmt::format("<text x='{:.1f}' y='{}' font-size='11' text-anchor='middle'>{}</text>\n", X(t), y0 + T + ph + 15, num(t));
  svg += fmt::format("<text x='{}' y='{}' font-size='12' text-anchor='middle'>step</text>\n", x0 + L + pw / 2, y0 + h - 8);
  for (size_t i = 0; i < p.lines.size(); ++i) {
    const auto& [name, s] = p.lines[i];
    std::string pts;
    for (const auto& [x, y] : *s)
      if (std::isfinite(y)) pts += fmt::format("{:.1f},{:.1f} ", X(x), Y(y));
    svg += fmt::format("<polyline fill='none' stroke='{}' stroke-width='1.6' points='{}'/>\n", colors[i % 4], pts);
    if (s->size() <= 30)
      for (const auto& [x, y] : *s) svg += fmt::format("<circle cx='{:.1f}' cy='{:.1f}' r='2.5' fill='{}'/>", X(x), Y(y), colors[i % 4]);
    svg += fmt::format("<text x='{}' y='{}' font-size='12' fill='{}' text-anchor='end'>{}</text>\n", x0 + L + pw - 5,
                       y0 + T + 15 + 14 * i, colors[i % 4], esc(name));
  }
}

}  // namespace

std::string plot_run(const std::string& run_dir, const std::string& out) {
  const std::string path = run_dir + "/metrics.jsonl";
  std::ifstream in(path);
  if (!in) fail("{}: no metrics.jsonl (is this a run directory?)", path);
  std::map<std::string, Series> series;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const std::exception& e) {
      fail("{}:{}: malformed metrics line: {}", path, n, e.what());
    }
    if (!j.is_object() || !j.contains("step") || !j["step"].is_number())
      fail("{}:{}: expected an object with a numeric \"step\"", path, n);
    double step = j["step"].get<double>();
    for (auto it = j.begin(); it != j.end(); ++it)
      if (it.key() != "step" && it->is_number()) series[it.key()].emplace_back(step, it->get<double>());
  }
  std::vector<Panel> panels;
  Panel loss{"loss", {}};
  if (series.count("loss")) loss.lines.push_back({"train", &series["loss"]});
  if (series.count("eval/loss")) loss.lines.push_back({"eval", &series["eval/loss"]});
  if (!loss.lines.empty()) panels.push_back(loss);
  if (series.count("lr")) panels.push_back({"learning rate", {{"lr", &series["lr"]}}});
  if (series.count("eval/accuracy")) panels.push_back({"eval exact-match accuracy", {{"accuracy", &series["eval/accuracy"]}}});
  if (panels.empty()) fail("{}: no loss, lr or eval series to plot", path);
  const double W = 720, H = 300;
  std::string svg = fmt::format(
      "<svg xmlns='http://www.w3.org/2000/svg' width='{}' height='{}' font-family='sans-serif'>\n"
      "<rect width='100%' height='100%' fill='white'/>\n",
      W, H * panels.size());
  for (size_t i = 0; i < panels.size(); ++i) draw(svg, panels[i], 0, H * i, W, H);
  svg += "</svg>\n";
  const std::string dst = out.empty() ? run_dir + "/plot.svg" : out;
  std::ofstream f(dst);
  if (!f) fail("cannot write {}", dst);
  f << svg;
  return dst;
}

}  // namespace pt::sinks
