#include "provenance/compare.h"

#include <map>
#include <optional>

#include <fmt/format.h>

#include "core/fingerprint.h"

namespace pt::provenance {
using nlohmann::json;

namespace {

const char* const kGroups[] = {"code/build", "environment", "launch", "inputs"};

// The record's top-level sections by group; bookkeeping (format, event, step, time) is not compared.
const char* group_of(const std::string& section) {
  if (section == "build" || section == "libraries") return kGroups[0];
  if (section == "environment") return kGroups[1];
  if (section == "launch" || section == "command") return kGroups[2];
  return nullptr;
}

// Keys that name or place a run rather than determine its numbers.
std::optional<std::string> why_not_counted(const std::string& key) {
  if (key == "environment.host") return "a host name";
  if (key.rfind("command.", 0) == 0) return "the command line: its overrides are compared in the recipe";
  return std::nullopt;
}

bool all_strings(const json& j) {
  for (const auto& x : j)
    if (!x.is_string()) return false;
  return true;
}

void flatten(const json& j, const std::string& path, std::map<std::string, std::string>& out) {
  if (j.is_object()) {  // an empty one has no leaves: "env: {}" vs "env.X: 1" is one difference
    for (const auto& [k, v] : j.items()) flatten(v, path.empty() ? k : path + "." + k, out);
  } else if (j.is_array() && all_strings(j)) {  // a command line reads best as one
    std::string s;
    for (const auto& x : j) s += (s.empty() ? "" : " ") + x.get<std::string>();
    out[path] = "[" + s + "]";
  } else {
    out[path] = j.is_string() ? j.get<std::string>() : j.dump();
  }
}

// The binary's own hash tells two builds of one commit apart: it counts only where the commit
// cannot (a build with uncommitted changes, or outside git); else a rebuild elsewhere is the same.
std::optional<std::string> binary_not_counted(const json& a, const json& b) {
  const std::string ca = a.value("/build/commit"_json_pointer, ""), cb = b.value("/build/commit"_json_pointer, "");
  const bool ambiguous = ca.size() >= 6 && ca.compare(ca.size() - 6, 6, "-dirty") == 0;
  if (ca == cb && (ambiguous || ca == "unknown")) return std::nullopt;
  return ca == cb ? "another build of the same clean commit" : "the commit differs (counted there)";
}

std::map<std::string, std::string> settings(const json& record) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : record.items())
    if (group_of(k)) flatten(v, k, out);
  return out;
}

void compare_settings(const json& a, const json& b, std::vector<Difference>& out) {
  const auto fa = settings(a), fb = settings(b);
  std::map<std::string, std::pair<std::string, std::string>> keys;
  for (const auto& [k, v] : fa) keys[k].first = v;
  for (const auto& [k, v] : fb) keys[k].second = v;
  for (const auto& [k, v] : keys) {
    if (fa.count(k) && fb.count(k) && v.first == v.second) continue;
    Difference d{group_of(k.substr(0, k.find('.'))), k, v.first, v.second, true, ""};
    auto why = k == "build.binary" ? binary_not_counted(a, b) : why_not_counted(k);
    if (why) {
      d.counts = false;
      d.note = *why;
    }
    out.push_back(std::move(d));
  }
}

std::string describe(const FileFingerprint& f) {
  if (!f.error.empty()) return "unreadable: " + f.error;
  std::string s = fmt::format("{}, {} bytes", f.hash.empty() ? "not hashed" : f.hash, f.size);
  if (f.hashed_bytes != f.size && !f.hash.empty()) s += fmt::format(", first {} bytes hashed", f.hashed_bytes);
  return s;
}

Difference compare_file(const std::string& key, const FileFingerprint& a, const FileFingerprint& b) {
  Difference d{"inputs", key, describe(a), describe(b), true, ""};
  if (a.error != b.error || a.hash != b.hash || a.hashed_bytes != b.hashed_bytes || a.size != b.size) {
    d.note = a.size == b.size ? "content changed, same size" : "content changed";
    if (a.header_hash != b.header_hash && !a.header_hash.empty()) d.note += " (tensor names, dtypes or shapes too)";
  } else {
    d.counts = false;
    d.note = a.path != b.path ? "same content at another path: " + a.path + " -> " + b.path
                              : "same content, touched (modification time differs)";
    if (a.path == b.path && a.mtime_ns == b.mtime_ns) d.note.clear();
  }
  return d;
}

using Files = std::map<std::string, FileFingerprint>;  // "role: name" -> file

Files input_files(const json& record) {
  Files out;
  for (const auto& j : record.value("inputs", json::array())) {
    const auto in = InputFingerprint::from_json(j);
    for (const auto& f : in.files) out[in.role + ": " + f.name] = f;
  }
  return out;
}

void compare_inputs(const json& a, const json& b, std::vector<Difference>& out) {
  const Files fa = input_files(a), fb = input_files(b);
  for (const auto& [k, f] : fa) {
    auto it = fb.find(k);
    if (it == fb.end()) {
      out.push_back({"inputs", k, describe(f), "", true, "only in A"});
      continue;
    }
    Difference d = compare_file(k, f, it->second);
    if (d.counts || !d.note.empty()) out.push_back(std::move(d));
  }
  for (const auto& [k, f] : fb)
    if (!fa.count(k)) out.push_back({"inputs", k, "", describe(f), true, "only in B"});
}

}  // namespace

std::vector<Difference> compare(const json& a, const json& b) {
  std::vector<Difference> all;
  compare_settings(a, b, all);
  compare_inputs(a, b, all);
  std::vector<Difference> out;
  for (const char* g : kGroups)
    for (const auto& d : all)
      if (d.group == g) out.push_back(d);
  return out;
}

size_t counting(const std::vector<Difference>& d) {
  size_t n = 0;
  for (const auto& x : d) n += x.counts;
  return n;
}

std::string format(const std::vector<Difference>& diffs, bool color) {
  const char* red = color ? "\x1b[31m" : "";
  const char* green = color ? "\x1b[32m" : "";
  const char* yellow = color ? "\x1b[33m" : "";
  const char* dim = color ? "\x1b[2m" : "";
  const char* reset = color ? "\x1b[0m" : "";
  std::string out, group;
  for (const auto& d : diffs) {
    if (d.group != group) out += (group = d.group) + ":\n";
    const char* c = !d.counts ? dim : d.a.empty() ? green : d.b.empty() ? red : yellow;
    std::string line = d.a.empty()   ? fmt::format("+ {}: {}", d.key, d.b)
                       : d.b.empty() ? fmt::format("- {}: {}", d.key, d.a)
                                     : fmt::format("~ {}: {} -> {}", d.key, d.a, d.b);
    if (!d.counts) line += fmt::format("   (does not count: {})", d.note);
    else if (!d.note.empty()) line += fmt::format("   ({})", d.note);
    out += fmt::format("  {}{}{}\n", c, line, reset);
  }
  return out;
}

}  // namespace pt::provenance
