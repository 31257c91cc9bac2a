#pragma once
// Values of the Jinja subset used by chat templates, with Python semantics where templates can
// see them (truthiness, str(), repr, equality, insertion-ordered dicts).
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace pt::jinja {

class Value;
using List = std::vector<Value>;
struct Dict;
struct Args;
using Function = std::function<Value(Args&)>;

class Value {
 public:
  enum class Type { Undefined, None, Bool, Int, Float, String, List, Dict, Function };
  Value() = default;  // Undefined
  static Value none() { Value v; v.type_ = Type::None; return v; }
  Value(bool b) : type_(Type::Bool), i_(b) {}  // NOLINT
  Value(int64_t i) : type_(Type::Int), i_(i) {}  // NOLINT
  Value(int i) : type_(Type::Int), i_(i) {}  // NOLINT
  Value(double d) : type_(Type::Float), d_(d) {}  // NOLINT
  Value(std::string s) : type_(Type::String), s_(std::make_shared<std::string>(std::move(s))) {}  // NOLINT
  Value(const char* s) : Value(std::string(s)) {}  // NOLINT
  Value(List l) : type_(Type::List), l_(std::make_shared<List>(std::move(l))) {}  // NOLINT
  Value(std::shared_ptr<Dict> d) : type_(Type::Dict), m_(std::move(d)) {}  // NOLINT
  Value(Function f) : type_(Type::Function), f_(std::make_shared<Function>(std::move(f))) {}  // NOLINT

  // Chat messages and tools must keep the user's key order (tojson / repr print it): pass
  // nlohmann::ordered_json; plain json objects come out key-sorted.
  template <class Json>
  static Value from_json(const Json& j);
  nlohmann::json to_json() const;

  Type type() const { return type_; }
  bool is_undefined() const { return type_ == Type::Undefined; }
  bool is_none() const { return type_ == Type::None; }
  bool is_bool() const { return type_ == Type::Bool; }
  bool is_int() const { return type_ == Type::Int; }
  bool is_float() const { return type_ == Type::Float; }
  bool is_number() const { return type_ == Type::Int || type_ == Type::Float; }
  bool is_string() const { return type_ == Type::String; }
  bool is_list() const { return type_ == Type::List; }
  bool is_dict() const { return type_ == Type::Dict; }
  bool is_function() const { return type_ == Type::Function; }

  bool as_bool() const { return i_ != 0; }
  int64_t as_int() const { return type_ == Type::Float ? static_cast<int64_t>(d_) : i_; }
  double as_float() const { return type_ == Type::Float ? d_ : static_cast<double>(i_); }
  const std::string& str_ref() const { return *s_; }
  List& list() const { return *l_; }
  Dict& dict() const { return *m_; }
  const Function& fn() const { return *f_; }

  bool truthy() const;
  std::string to_string() const;  // Python str()
  std::string repr() const;       // Python repr()
  const char* type_name() const;
  bool operator==(const Value& o) const;
  bool operator!=(const Value& o) const { return !(*this == o); }

 private:
  Type type_ = Type::Undefined;
  int64_t i_ = 0;
  double d_ = 0;
  std::shared_ptr<std::string> s_;
  std::shared_ptr<List> l_;
  std::shared_ptr<Dict> m_;
  std::shared_ptr<Function> f_;
};

// Insertion-ordered like a Python dict (tojson and items() must keep the user's key order).
struct Dict {
  std::vector<std::pair<std::string, Value>> items;
  bool is_namespace = false;  // namespace() objects accept attribute assignment
  const Value* find(const std::string& k) const {
    for (const auto& kv : items)
      if (kv.first == k) return &kv.second;
    return nullptr;
  }
  void set(const std::string& k, Value v) {
    for (auto& kv : items)
      if (kv.first == k) {
        kv.second = std::move(v);
        return;
      }
    items.emplace_back(k, std::move(v));
  }
};

struct Args {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
  Value get(size_t i, const std::string& name, Value dflt = Value()) const {
    for (const auto& kv : keyword)
      if (kv.first == name) return kv.second;
    return i < positional.size() ? positional[i] : dflt;
  }
};

// Python-style JSON text (json.dumps with ensure_ascii=False): ", " / ": " separators, or
// newline + indent when indent >= 0; floats as Python repr.
std::string dumps(const Value& v, int indent = -1, bool sort_keys = false);
std::string python_float(double d);

}  // namespace pt::jinja

namespace pt::jinja {
template <class Json>
Value Value::from_json(const Json& j) {
  if (j.is_null()) return Value::none();
  if (j.is_boolean()) return Value(j.template get<bool>());
  if (j.is_number_integer()) return Value(j.template get<int64_t>());
  if (j.is_number_float()) return Value(j.template get<double>());
  if (j.is_string()) return Value(j.template get<std::string>());
  if (j.is_array()) {
    List l;
    for (const auto& e : j) l.push_back(from_json(e));
    return Value(std::move(l));
  }
  if (j.is_object()) {
    auto d = std::make_shared<Dict>();
    for (auto it = j.begin(); it != j.end(); ++it) d->items.emplace_back(it.key(), from_json(it.value()));
    return Value(d);
  }
  return Value();
}
}  // namespace pt::jinja
