#include "recipe/diff.h"

#include <map>

namespace pt::recipe {

namespace {

std::string flow(const Node& n) {
  switch (n.kind) {
    case Node::Kind::Null: return "null";
    case Node::Kind::Scalar: return n.quoted ? "\"" + n.scalar + "\"" : n.scalar;
    case Node::Kind::Seq: {
      std::string s = "[";
      for (size_t i = 0; i < n.seq.size(); ++i) s += (i ? ", " : "") + flow(n.seq[i]);
      return s + "]";
    }
    case Node::Kind::Map: {
      std::string s = "{";
      for (size_t i = 0; i < n.map.size(); ++i)
        s += (i ? ", " : "") + n.map[i].first + ": " + flow(n.map[i].second);
      return s + "}";
    }
  }
  return "";
}

bool is_list_of_maps(const Node& n) {
  if (!n.is_seq() || n.seq.empty()) return false;
  for (const auto& c : n.seq)
    if (!c.is_map()) return false;
  return true;
}

// Leaves keyed by path; lists of scalars are one leaf, lists of mappings recurse by index.
void flatten(const Node& n, const std::string& path, std::vector<std::pair<std::string, const Node*>>& out) {
  if (n.is_map() && !n.map.empty()) {
    for (const auto& [k, v] : n.map) flatten(v, path.empty() ? k : path + "." + k, out);
  } else if (is_list_of_maps(n)) {
    for (size_t i = 0; i < n.seq.size(); ++i) flatten(n.seq[i], path + "[" + std::to_string(i) + "]", out);
  } else {
    out.emplace_back(path, &n);
  }
}

}  // namespace

std::string Change::section() const {
  auto p = path.find_first_of(".[");
  return p == std::string::npos ? path : path.substr(0, p);
}

std::vector<Change> diff(const Node& a, const Node& b) {
  std::vector<std::pair<std::string, const Node*>> fa, fb;
  flatten(a, "", fa);
  flatten(b, "", fb);
  std::map<std::string, const Node*> mb(fb.begin(), fb.end());
  std::map<std::string, const Node*> ma(fa.begin(), fa.end());
  std::vector<Change> out;
  for (const auto& [path, node] : fa) {
    auto it = mb.find(path);
    if (it == mb.end()) {
      out.push_back({Change::Kind::Removed, path, flow(*node), ""});
    } else {
      std::string x = flow(*node), y = flow(*it->second);
      if (x != y) out.push_back({Change::Kind::Changed, path, x, y});
    }
  }
  for (const auto& [path, node] : fb)
    if (!ma.count(path)) out.push_back({Change::Kind::Added, path, "", flow(*node)});
  // Group by section, keeping each side's document order within a section.
  std::vector<std::string> order;
  for (const auto& c : out) {
    bool seen = false;
    for (const auto& s : order) seen = seen || s == c.section();
    if (!seen) order.push_back(c.section());
  }
  std::vector<Change> grouped;
  for (const auto& s : order)
    for (const auto& c : out)
      if (c.section() == s) grouped.push_back(c);
  return grouped;
}

std::string format_diff(const std::vector<Change>& changes, bool color) {
  const char* red = color ? "\x1b[31m" : "";
  const char* green = color ? "\x1b[32m" : "";
  const char* yellow = color ? "\x1b[33m" : "";
  const char* reset = color ? "\x1b[0m" : "";
  std::string out, current;
  for (const auto& c : changes) {
    if (c.section() != current) {
      current = c.section();
      out += current + ":\n";
    }
    std::string rel = c.path.size() > current.size() ? c.path.substr(current.size() + (c.path[current.size()] == '.')) : c.path;
    switch (c.kind) {
      case Change::Kind::Added:
        out += fmt::format("  {}+ {}: {}{}\n", green, rel, c.new_value, reset);
        break;
      case Change::Kind::Removed:
        out += fmt::format("  {}- {}: {}{}\n", red, rel, c.old_value, reset);
        break;
      case Change::Kind::Changed:
        out += fmt::format("  {}~ {}: {} -> {}{}\n", yellow, rel, c.old_value, c.new_value, reset);
        break;
    }
  }
  return out;
}

namespace {
bool under(const std::string& path, const char* prefix) {
  const std::string s(prefix);
  return path == s || path.rfind(s + ".", 0) == 0;
}
}  // namespace

bool cannot_change_results(const Change& c) {
  for (const char* p : {"logging", "checkpoint.every", "checkpoint.keep_last", "checkpoint.save_final_hf", "trainer.eval",
                        "run.name", "run.output_dir", "data.prefetch"})
    if (under(c.path, p)) return true;
  return false;
}

bool is_resume_safe(const Change& c) {
  // trainer.max_steps is not here: it sets the length of linear/cosine schedules, so changing it
  // changes every later learning rate (extend a run with --force, knowingly).
  // The parallel layout only reorders gradient sums (a different rank count already does; tensor
  // parallel checkpoints hold whole tensors); the strategy is not here: ddp and fsdp checkpoint the
  // optimizer in different forms.
  static const char* safe_prefixes[] = {"logging",      "checkpoint.every",        "checkpoint.keep_last",
                                        "checkpoint.save_final_hf", "trainer.eval", "run.name",
                                        "run.output_dir", "data.prefetch", "parallel.zero_stage", "parallel.bucket_mb",
                                        "parallel.backend", "parallel.timeout_s", "parallel.data_parallel",
                                        "parallel.tensor_parallel"};
  for (const char* p : safe_prefixes)
    if (under(c.path, p)) return true;
  return false;
}

}  // namespace pt::recipe
