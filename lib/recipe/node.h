#pragma once
// A YAML document as an ordered tree whose every node remembers file:line:column. We keep our own
// tree (not YAML::Node) because base-recipe inheritance and --set overrides merge nodes from
// several files, and errors must still name the file each value came from.
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"

namespace pt::recipe {

struct Node {
  enum class Kind { Null, Scalar, Seq, Map };
  Kind kind = Kind::Null;
  std::string scalar;                              // Kind::Scalar
  bool quoted = false;                             // "..." or '...' in the source
  std::vector<Node> seq;                           // Kind::Seq
  std::vector<std::pair<std::string, Node>> map;   // Kind::Map, in document order
  Location loc;
  Location key_loc;                                // where this node's key is, for map children

  bool is_map() const { return kind == Kind::Map; }
  bool is_seq() const { return kind == Kind::Seq; }
  bool is_scalar() const { return kind == Kind::Scalar; }
  bool is_null() const { return kind == Kind::Null; }
  const Node* find(const std::string& key) const;
  Node* find(const std::string& key);
  Node& set(const std::string& key, Node value);   // replace or append, keeps order
  bool erase(const std::string& key);
  const char* kind_name() const;

  static Node make_scalar(std::string s, bool quoted = false);
  static Node make_map();
  static Node make_seq();
};

Node parse_yaml(const std::string& text, const std::string& origin);
Node load_yaml_file(const std::string& path);

// Deep merge: maps merge key by key, everything else (scalars, lists) is replaced by `over`.
void merge_into(Node& base, const Node& over);

// "a.b.c=value": value parsed as YAML (so lists and numbers work), created maps as needed.
void apply_override(Node& root, const std::string& assignment);

// Canonical block YAML: keys in tree order, flow style for lists of scalars.
std::string to_yaml(const Node& node);

}  // namespace pt::recipe
