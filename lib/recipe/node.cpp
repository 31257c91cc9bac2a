#include "recipe/node.h"

#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace pt::recipe {

const Node* Node::find(const std::string& key) const {
  for (const auto& kv : map)
    if (kv.first == key) return &kv.second;
  return nullptr;
}
Node* Node::find(const std::string& key) {
  for (auto& kv : map)
    if (kv.first == key) return &kv.second;
  return nullptr;
}
Node& Node::set(const std::string& key, Node value) {
  kind = Kind::Map;
  if (Node* n = find(key)) return *n = std::move(value);
  map.emplace_back(key, std::move(value));
  return map.back().second;
}
bool Node::erase(const std::string& key) {
  for (auto it = map.begin(); it != map.end(); ++it)
    if (it->first == key) {
      map.erase(it);
      return true;
    }
  return false;
}
const char* Node::kind_name() const {
  switch (kind) {
    case Kind::Null: return "null";
    case Kind::Scalar: return "a scalar";
    case Kind::Seq: return "a list";
    case Kind::Map: return "a mapping";
  }
  return "?";
}
Node Node::make_scalar(std::string s, bool quoted) {
  Node n;
  n.kind = Kind::Scalar;
  n.scalar = std::move(s);
  n.quoted = quoted;
  return n;
}
Node Node::make_map() {
  Node n;
  n.kind = Kind::Map;
  return n;
}
Node Node::make_seq() {
  Node n;
  n.kind = Kind::Seq;
  return n;
}

static Node convert(const YAML::Node& y, const std::string& origin) {
  Node n;
  n.loc = Location{origin, y.Mark().line + 1, y.Mark().column + 1, ""};
  switch (y.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      n.kind = Node::Kind::Null;
      break;
    case YAML::NodeType::Scalar:
      n.kind = Node::Kind::Scalar;
      n.scalar = y.Scalar();
      n.quoted = y.Tag() == "!";
      // A plain `~`/`null` is YAML null, not the string "null".
      if (!n.quoted && (n.scalar == "~" || n.scalar == "null" || n.scalar == "Null" || n.scalar == "NULL"))
        n.kind = Node::Kind::Null;
      break;
    case YAML::NodeType::Sequence:
      n.kind = Node::Kind::Seq;
      for (const auto& item : y) n.seq.push_back(convert(item, origin));
      break;
    case YAML::NodeType::Map:
      n.kind = Node::Kind::Map;
      for (const auto& kv : y) {
        std::string key = kv.first.as<std::string>();
        if (n.find(key))
          fail_at(Location{origin, kv.first.Mark().line + 1, kv.first.Mark().column + 1, key},
                  "duplicate key '{}'", key);
        Node child = convert(kv.second, origin);
        child.key_loc = Location{origin, kv.first.Mark().line + 1, kv.first.Mark().column + 1, ""};
        n.map.emplace_back(key, std::move(child));
      }
      break;
  }
  return n;
}

Node parse_yaml(const std::string& text, const std::string& origin) {
  try {
    YAML::Node y = YAML::Load(text);
    return convert(y, origin);
  } catch (const YAML::Exception& e) {
    fail_at(Location{origin, e.mark.line + 1, e.mark.column + 1, ""}, "invalid YAML: {}", e.msg);
  }
}

Node load_yaml_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open recipe file '{}'", path);
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_yaml(ss.str(), path);
}

void merge_into(Node& base, const Node& over) {
  if (base.is_map() && over.is_map()) {
    for (const auto& [k, v] : over.map) {
      if (Node* b = base.find(k))
        merge_into(*b, v);
      else
        base.map.emplace_back(k, v);
    }
    return;
  }
  base = over;
}

void apply_override(Node& root, const std::string& assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    fail("--set '{}': expected key.path=value", assignment);
  std::string path = assignment.substr(0, eq);
  std::string value = assignment.substr(eq + 1);
  Location where{"--set " + assignment, 0, 0, path};
  Node parsed = parse_yaml(value.empty() ? "''" : value, "--set " + path);
  parsed.loc = where;
  // Empty values stay empty strings rather than null: `--set run.name=` is almost always a typo.
  if (value.empty()) parsed = Node::make_scalar("", true), parsed.loc = where;
  for (auto& child : parsed.seq) child.loc = where;

  Node* cur = &root;
  if (!cur->is_map()) *cur = Node::make_map();
  size_t start = 0;
  while (true) {
    auto dot = path.find('.', start);
    std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    // `key[i]` (repeatable) reaches into a list the recipe already has: data.sources[0].path=...
    std::vector<size_t> indices;
    for (auto open = key.find('['); open != std::string::npos; open = key.find('[')) {
      const auto close = key.find(']', open);
      const std::string digits = close == std::string::npos ? "" : key.substr(open + 1, close - open - 1);
      if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos || (close + 1 < key.size() && key[close + 1] != '['))
        fail("--set '{}': expected key[index] in '{}'", assignment, key);
      indices.push_back(std::stoul(digits));
      key = key.substr(0, open) + key.substr(close + 1);
    }
    if (key.empty()) fail("--set '{}': empty key in path '{}'", assignment, path);
    const bool last = dot == std::string::npos;
    if (last && indices.empty()) {
      cur->set(key, parsed);
      return;
    }
    Node* next = cur->find(key);
    for (size_t i : indices) {
      if (!next || !next->is_seq())
        fail("--set '{}': '{}' is not a list in the recipe, so [{}] cannot index it", assignment, key, i);
      if (i >= next->seq.size())
        fail("--set '{}': '{}' has {} item(s); index {} is out of range", assignment, key, next->seq.size(), i);
      next = &next->seq[i];
    }
    if (last) {
      *next = parsed;
      return;
    }
    if (!next || !next->is_map()) {
      if (!indices.empty()) fail("--set '{}': item {} of '{}' is not a mapping", assignment, indices.back(), key);
      Node m = Node::make_map();
      m.loc = where;
      next = &cur->set(key, m);
    }
    cur = next;
    start = dot + 1;
  }
}

static void emit(YAML::Emitter& out, const Node& n) {
  switch (n.kind) {
    case Node::Kind::Null:
      out << YAML::Null;
      break;
    case Node::Kind::Scalar:
      if (n.quoted) out << YAML::DoubleQuoted;
      out << n.scalar;
      break;
    case Node::Kind::Seq: {
      bool flat = true;
      for (const auto& c : n.seq) flat = flat && (c.is_scalar() || c.is_null());
      if (flat) out << YAML::Flow;
      out << YAML::BeginSeq;
      for (const auto& c : n.seq) emit(out, c);
      out << YAML::EndSeq;
      break;
    }
    case Node::Kind::Map:
      out << YAML::BeginMap;
      for (const auto& [k, v] : n.map) {
        out << YAML::Key << k << YAML::Value;
        emit(out, v);
      }
      out << YAML::EndMap;
      break;
  }
}

std::string to_yaml(const Node& node) {
  YAML::Emitter out;
  out.SetIndent(2);
  emit(out, node);
  return std::string(out.c_str()) + "\n";
}

}  // namespace pt::recipe
