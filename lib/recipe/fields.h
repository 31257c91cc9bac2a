#pragma once
// Compile-time field lists for recipe sections. Every section struct declares its fields once:
//
//   template <class V> void visit(V& v) {
//     v.field("lr", lr, Spec("peak learning rate").gt(0));
//     v.section_if(name == Algo::Dpo, "dpo", dpo, Spec("DPO settings"), "when algorithm.name is dpo");
//   }
//
// and the visitors below derive strict parsing (unknown keys, types, ranges, did-you-mean), the
// canonical dump, the JSON schema and the diff from that single declaration — so they cannot drift.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "recipe/node.h"

namespace pt::recipe {

struct Spec {
  std::string help;
  std::optional<double> lo, hi;
  bool lo_open = false, hi_open = false;
  std::vector<std::string> choices;  // allowed values of a string field
  bool required = false;

  Spec(const char* h) : help(h) {}  // NOLINT: implicit so `Spec("...")` reads naturally
  Spec& min(double v) { lo = v; lo_open = false; return *this; }
  Spec& gt(double v) { lo = v; lo_open = true; return *this; }
  Spec& max(double v) { hi = v; hi_open = false; return *this; }
  Spec& lt(double v) { hi = v; hi_open = true; return *this; }
  Spec& one_of(std::vector<std::string> c) { choices = std::move(c); return *this; }
  Spec& req() { required = true; return *this; }
};

// Enums map to YAML strings through a table: PT_RECIPE_ENUM(pt::Dtype, {pt::Dtype::F32, "float32"}, ...)
template <class T>
struct EnumTable;
#define PT_RECIPE_ENUM(T, ...)                                                  \
  template <>                                                                   \
  struct pt::recipe::EnumTable<T> {                                             \
    static const std::vector<std::pair<T, const char*>>& entries() {            \
      static const std::vector<std::pair<T, const char*>> e{__VA_ARGS__};       \
      return e;                                                                 \
    }                                                                           \
  };

template <class T, class = void>
struct is_enum_mapped : std::false_type {};
template <class T>
struct is_enum_mapped<T, std::void_t<decltype(EnumTable<T>::entries())>> : std::true_type {};

template <class T>
const char* enum_name(T v) {
  for (const auto& [e, n] : EnumTable<T>::entries())
    if (e == v) return n;
  return "?";
}
template <class T>
std::vector<std::string> enum_names() {
  std::vector<std::string> out;
  for (const auto& [e, n] : EnumTable<T>::entries()) out.emplace_back(n);
  return out;
}

struct ProbeVisitor {
  template <class T>
  void field(const char*, T&, const Spec&) {}
  template <class T>
  void section_if(bool, const char*, T&, const Spec&, const char*) {}
};
template <class T, class = void>
struct is_section : std::false_type {};
template <class T>
struct is_section<T, std::void_t<decltype(std::declval<T&>().visit(std::declval<ProbeVisitor&>()))>>
    : std::true_type {};

// A free-form value (a tool's JSON-Schema parameters): any YAML mapping, list or scalar, kept as JSON.
// Unquoted scalars read as YAML 1.2's core schema does (true/false, integers, numbers, else strings).
struct Json {
  nlohmann::ordered_json value;
  bool operator==(const Json& o) const { return value == o.value; }
  bool operator!=(const Json& o) const { return !(*this == o); }
};
nlohmann::ordered_json node_to_json(const Node& n);
Node json_to_node(const nlohmann::ordered_json& j);

template <class T> struct is_vector : std::false_type {};
template <class T> struct is_vector<std::vector<T>> : std::true_type {};
template <class T> struct is_optional : std::false_type {};
template <class T> struct is_optional<std::optional<T>> : std::true_type {};
template <class T> struct is_string_map : std::false_type {};
template <class T> struct is_string_map<std::map<std::string, T>> : std::true_type {};
// Scalars (and optional scalars): the fields that get a "default" in the schema.
template <class T>
struct is_plain : std::bool_constant<!is_section<T>::value && !is_vector<T>::value && !is_string_map<T>::value> {};
template <class T>
struct is_plain<std::optional<T>> : is_plain<T> {};

inline std::string join_key(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

// ---------------------------------------------------------------------------------------------
// Parsing: Node -> typed struct, strict.
class Parser {
 public:
  Parser(const Node& node, std::string path) : node_(node), path_(std::move(path)) {}

  template <class T>
  void field(const char* key, T& value, const Spec& spec) {
    seen_.emplace_back(key);
    const Node* n = node_.find(key);
    if (!n) {
      if (spec.required)
        fail_at(at(node_, join_key(path_, key)), "missing required key '{}' ({})", join_key(path_, key),
                spec.help);
      return;
    }
    read(*n, join_key(path_, key), value, spec);
  }

  template <class T>
  void section_if(bool active, const char* key, T& value, const Spec& spec, const char* when) {
    seen_.emplace_back(key);
    const Node* n = node_.find(key);
    if (!n) return;
    if (!active) fail_at(at(*n, join_key(path_, key)), "'{}' is only allowed {}", join_key(path_, key), when);
    read(*n, join_key(path_, key), value, spec);
  }

  // Unknown keys are errors with the closest known key suggested.
  void finish() const;

  template <class T>
  static void read(const Node& n, const std::string& path, T& value, const Spec& spec) {
    if constexpr (std::is_same_v<T, Json>) {
      value.value = node_to_json(n);
    } else if constexpr (is_optional<T>::value) {
      if (n.is_null()) {
        value.reset();
      } else {
        typename T::value_type inner{};
        if (value) inner = *value;
        read(n, path, inner, spec);
        value = std::move(inner);
      }
    } else if constexpr (is_section<T>::value) {
      if (n.is_null()) return;  // `lora:` with nothing under it keeps the defaults
      if (!n.is_map()) fail_at(at(n, path), "expected a mapping for '{}', got {}", path, n.kind_name());
      Parser p(n, path);
      value.visit(p);
      p.finish();
    } else if constexpr (is_vector<T>::value) {
      if (!n.is_seq()) fail_at(at(n, path), "expected a list for '{}', got {}", path, n.kind_name());
      T out;
      for (size_t i = 0; i < n.seq.size(); ++i) {
        typename T::value_type item{};
        read(n.seq[i], path + "[" + std::to_string(i) + "]", item, spec);
        out.push_back(std::move(item));
      }
      value = std::move(out);
    } else if constexpr (is_string_map<T>::value) {
      if (n.is_null()) return;
      if (!n.is_map()) fail_at(at(n, path), "expected a mapping for '{}', got {}", path, n.kind_name());
      T out;
      for (const auto& [k, v] : n.map) {
        typename T::mapped_type item{};
        read(v, join_key(path, k), item, spec);
        out[k] = std::move(item);
      }
      value = std::move(out);
    } else {
      if (!n.is_scalar()) fail_at(at(n, path), "expected {} for '{}', got {}", type_name<T>(), path, n.kind_name());
      read_scalar(n, path, value, spec);
    }
  }

  template <class T>
  static const char* type_name() {
    if constexpr (std::is_same_v<T, bool>) return "true or false";
    else if constexpr (std::is_integral_v<T>) return "an integer";
    else if constexpr (std::is_floating_point_v<T>) return "a number";
    else return "a string";
  }

 private:
  static Location at(const Node& n, const std::string& key) {
    Location l = n.loc;
    l.key = key;
    return l;
  }
  static void check_range(const Node& n, const std::string& path, double v, const Spec& spec);
  static void read_scalar(const Node& n, const std::string& path, bool& v, const Spec& spec);
  static void read_scalar(const Node& n, const std::string& path, int& v, const Spec& spec);
  static void read_scalar(const Node& n, const std::string& path, int64_t& v, const Spec& spec);
  static void read_scalar(const Node& n, const std::string& path, double& v, const Spec& spec);
  static void read_scalar(const Node& n, const std::string& path, std::string& v, const Spec& spec);
  template <class E, std::enable_if_t<is_enum_mapped<E>::value, int> = 0>
  static void read_scalar(const Node& n, const std::string& path, E& v, const Spec&) {
    for (const auto& [e, name] : EnumTable<E>::entries())
      if (n.scalar == name) {
        v = e;
        return;
      }
    auto names = enum_names<E>();
    std::string hint = did_you_mean(n.scalar, names);
    fail_at(at(n, path), "invalid value '{}' for '{}': expected one of {}{}", n.scalar, path, join(names),
            hint.empty() ? "" : " (did you mean '" + hint + "'?)");
  }
  static std::string join(const std::vector<std::string>& v);

  const Node& node_;
  std::string path_;
  std::vector<std::string> seen_;
};

// ---------------------------------------------------------------------------------------------
// Dumping: typed struct -> canonical Node (every field, defaults included, declaration order).
class Dumper {
 public:
  Node out = Node::make_map();

  template <class T>
  void field(const char* key, T& value, const Spec&) {
    out.set(key, to_node(value));
  }
  template <class T>
  void section_if(bool active, const char* key, T& value, const Spec&, const char*) {
    if (active) out.set(key, to_node(value));
  }

  template <class T>
  static Node to_node(const T& value) {
    if constexpr (std::is_same_v<T, Json>) {
      return json_to_node(value.value);
    } else if constexpr (is_optional<T>::value) {
      return value ? to_node(*value) : Node{};
    } else if constexpr (is_section<T>::value) {
      Dumper d;
      const_cast<T&>(value).visit(d);
      return d.out;
    } else if constexpr (is_vector<T>::value) {
      Node s = Node::make_seq();
      for (const auto& item : value) s.seq.push_back(to_node(item));
      return s;
    } else if constexpr (is_string_map<T>::value) {
      Node m = Node::make_map();
      for (const auto& [k, v] : value) m.set(k, to_node(v));
      return m;
    } else if constexpr (std::is_same_v<T, bool>) {
      return Node::make_scalar(value ? "true" : "false");
    } else if constexpr (std::is_integral_v<T>) {
      return Node::make_scalar(std::to_string(value));
    } else if constexpr (std::is_floating_point_v<T>) {
      return Node::make_scalar(format_double(value));
    } else if constexpr (is_enum_mapped<T>::value) {
      return Node::make_scalar(enum_name(value));
    } else {
      return string_node(value);
    }
  }

 private:
  static std::string format_double(double v);
  static Node string_node(const std::string& s);
};

// ---------------------------------------------------------------------------------------------
// JSON Schema (draft-07) for editors.
class SchemaWriter {
 public:
  nlohmann::json properties = nlohmann::json::object();
  std::vector<std::string> required;

  template <class T>
  void field(const char* key, T& value, const Spec& spec) {
    properties[key] = schema_of(value, spec);
    if (spec.required) required.emplace_back(key);
  }
  template <class T>
  void section_if(bool, const char* key, T& value, const Spec& spec, const char* when) {
    auto s = schema_of(value, spec);
    s["description"] = spec.help + " (only " + when + ")";
    properties[key] = s;
  }

  template <class T>
  static nlohmann::json schema_of(const T& value, const Spec& spec) {
    nlohmann::json s = type_schema<T>(value, spec);
    if (!spec.help.empty() && !s.contains("description")) s["description"] = spec.help;
    if constexpr (is_plain<T>::value) s["default"] = default_json(value);
    return s;
  }

  template <class T>
  static nlohmann::json type_schema(const T& value, const Spec& spec) {
    nlohmann::json s;
    if constexpr (std::is_same_v<T, Json>) {
      s = nlohmann::json::object();  // any value
    } else if constexpr (is_optional<T>::value) {
      typename T::value_type inner{};
      if (value) inner = *value;
      s = type_schema(inner, spec);
      if (is_section<typename T::value_type>::value) {
        s = {{"oneOf", {s, {{"type", "null"}}}}};
      } else if (s.contains("type")) {
        s["type"] = {s["type"], "null"};
      }
    } else if constexpr (is_section<T>::value) {
      SchemaWriter w;
      const_cast<T&>(value).visit(w);
      s = w.object_schema();
      s["description"] = spec.help;
    } else if constexpr (is_vector<T>::value) {
      typename T::value_type item{};
      s["type"] = "array";
      s["items"] = type_schema(item, spec);
      if (s["items"].contains("description")) s["items"].erase("description");
    } else if constexpr (is_string_map<T>::value) {
      typename T::mapped_type item{};
      s["type"] = "object";
      s["additionalProperties"] = type_schema(item, spec);
    } else if constexpr (std::is_same_v<T, bool>) {
      s["type"] = "boolean";
    } else if constexpr (std::is_integral_v<T>) {
      s["type"] = "integer";
      add_range(s, spec);
    } else if constexpr (std::is_floating_point_v<T>) {
      s["type"] = "number";
      add_range(s, spec);
    } else if constexpr (is_enum_mapped<T>::value) {
      s["type"] = "string";
      s["enum"] = enum_names<T>();
    } else {
      s["type"] = "string";
      if (!spec.choices.empty()) s["enum"] = spec.choices;
    }
    return s;
  }

  nlohmann::json object_schema() const;

 private:
  static void add_range(nlohmann::json& s, const Spec& spec);
  template <class T>
  static nlohmann::json default_json(const T& value) {
    if constexpr (std::is_same_v<T, Json>) {
      return nlohmann::json::parse(value.value.dump());
    } else if constexpr (is_optional<T>::value) {
      return value ? default_json(*value) : nlohmann::json(nullptr);
    } else if constexpr (is_enum_mapped<T>::value) {
      return enum_name(value);
    } else {
      return value;
    }
  }
};

// Parse a whole section from a Node (strict), and dump it back.
template <class T>
T parse_section(const Node& n, const std::string& path = "") {
  T value{};
  Parser::read(n, path, value, Spec(""));
  return value;
}
template <class T>
Node dump_section(const T& value) {
  return Dumper::to_node(value);
}

}  // namespace pt::recipe
