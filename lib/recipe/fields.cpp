#include "recipe/fields.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace pt::recipe {

std::string Parser::join(const std::vector<std::string>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
  return s;
}

void Parser::finish() const {
  for (const auto& [key, child] : node_.map) {
    bool known = false;
    for (const auto& s : seen_) known = known || s == key;
    if (known) continue;
    std::string hint = did_you_mean(key, seen_);
    std::string where = path_.empty() ? "at the top level" : "in '" + path_ + "'";
    Location l = child.key_loc.line > 0 ? child.key_loc : child.loc;
    l.key = join_key(path_, key);
    fail_at(l, "unknown key '{}' {}{}; known keys: {}", key, where,
            hint.empty() ? "" : " (did you mean '" + hint + "'?)", join(seen_));
  }
}

void Parser::check_range(const Node& n, const std::string& path, double v, const Spec& spec) {
  auto bound = [](double b) { return Dumper::to_node(b).scalar; };
  if (spec.lo && (spec.lo_open ? !(v > *spec.lo) : !(v >= *spec.lo)))
    fail_at(at(n, path), "value {} for '{}' is out of range: expected {} {}", n.scalar, path,
            spec.lo_open ? ">" : ">=", bound(*spec.lo));
  if (spec.hi && (spec.hi_open ? !(v < *spec.hi) : !(v <= *spec.hi)))
    fail_at(at(n, path), "value {} for '{}' is out of range: expected {} {}", n.scalar, path,
            spec.hi_open ? "<" : "<=", bound(*spec.hi));
}

void Parser::read_scalar(const Node& n, const std::string& path, bool& v, const Spec&) {
  const std::string& s = n.scalar;
  if (s == "true" || s == "True" || s == "TRUE") v = true;
  else if (s == "false" || s == "False" || s == "FALSE") v = false;
  else fail_at(at(n, path), "expected true or false for '{}', got '{}'", path, s);
}

template <class I>
static bool parse_int(const std::string& s, I& out) {
  const char* b = s.data();
  const char* e = s.data() + s.size();
  if (b != e && *b == '+') ++b;
  auto [p, ec] = std::from_chars(b, e, out);
  return ec == std::errc() && p == e;
}

void Parser::read_scalar(const Node& n, const std::string& path, int& v, const Spec& spec) {
  if (!parse_int(n.scalar, v)) fail_at(at(n, path), "expected an integer for '{}', got '{}'", path, n.scalar);
  check_range(n, path, v, spec);
}
void Parser::read_scalar(const Node& n, const std::string& path, int64_t& v, const Spec& spec) {
  if (!parse_int(n.scalar, v)) fail_at(at(n, path), "expected an integer for '{}', got '{}'", path, n.scalar);
  check_range(n, path, static_cast<double>(v), spec);
}
void Parser::read_scalar(const Node& n, const std::string& path, double& v, const Spec& spec) {
  const std::string& s = n.scalar;
  char* end = nullptr;
  errno = 0;
  v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || errno == ERANGE || !std::isfinite(v))
    fail_at(at(n, path), "expected a finite number for '{}', got '{}'", path, s);
  check_range(n, path, v, spec);
}
void Parser::read_scalar(const Node& n, const std::string& path, std::string& v, const Spec& spec) {
  v = n.scalar;
  if (spec.choices.empty()) return;
  for (const auto& c : spec.choices)
    if (c == v) return;
  std::string hint = did_you_mean(v, spec.choices);
  fail_at(at(n, path), "invalid value '{}' for '{}': expected one of {}{}", v, path, join(spec.choices),
          hint.empty() ? "" : " (did you mean '" + hint + "'?)");
}

std::string Dumper::format_double(double v) {
  std::string s = fmt::format("{}", v);
  // Keep a decimal point so the value reads back as a float in any YAML tooling.
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

Node Dumper::string_node(const std::string& s) {
  // Quote anything a YAML reader could take for another type.
  bool ambiguous = s.empty() || s == "true" || s == "false" || s == "null" || s == "~" || s == "yes" ||
                   s == "no" || s.find_first_of(":#{}[],&*!|>'\"%@`") != std::string::npos ||
                   s.front() == ' ' || s.back() == ' ' || s.front() == '-';
  if (!ambiguous) {
    char* end = nullptr;
    std::strtod(s.c_str(), &end);
    ambiguous = end == s.c_str() + s.size();
  }
  return Node::make_scalar(s, ambiguous);
}

void SchemaWriter::add_range(nlohmann::json& s, const Spec& spec) {
  if (spec.lo) s[spec.lo_open ? "exclusiveMinimum" : "minimum"] = *spec.lo;
  if (spec.hi) s[spec.hi_open ? "exclusiveMaximum" : "maximum"] = *spec.hi;
}

nlohmann::json SchemaWriter::object_schema() const {
  nlohmann::json s;
  s["type"] = "object";
  s["additionalProperties"] = false;
  s["properties"] = properties;
  if (!required.empty()) s["required"] = required;
  return s;
}


nlohmann::ordered_json node_to_json(const Node& n) {
  switch (n.kind) {
    case Node::Kind::Null: return nullptr;
    case Node::Kind::Seq: {
      auto out = nlohmann::ordered_json::array();
      for (const auto& c : n.seq) out.push_back(node_to_json(c));
      return out;
    }
    case Node::Kind::Map: {
      auto out = nlohmann::ordered_json::object();
      for (const auto& [k, v] : n.map) out[k] = node_to_json(v);
      return out;
    }
    case Node::Kind::Scalar: break;
  }
  const std::string& s = n.scalar;
  if (n.quoted) return s;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (int64_t i; parse_int(s, i)) return i;
  char* end = nullptr;
  errno = 0;
  const double d = std::strtod(s.c_str(), &end);
  if (!s.empty() && end == s.c_str() + s.size() && errno == 0 && std::isfinite(d) &&
      s.find_first_not_of("0123456789+-.eE") == std::string::npos)
    return d;
  return s;
}

Node json_to_node(const nlohmann::ordered_json& j) {
  if (j.is_null()) return Node{};
  if (j.is_array()) {
    Node out = Node::make_seq();
    for (const auto& c : j) out.seq.push_back(json_to_node(c));
    return out;
  }
  if (j.is_object()) {
    Node out = Node::make_map();
    for (const auto& [k, v] : j.items()) out.set(k, json_to_node(v));
    return out;
  }
  if (j.is_string()) return Node::make_scalar(j.get<std::string>(), true);
  if (j.is_number_float()) return Dumper::to_node(j.get<double>());
  return Node::make_scalar(j.dump());
}

}  // namespace pt::recipe
