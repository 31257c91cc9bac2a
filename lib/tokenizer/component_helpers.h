#pragma once
// Shared by the tokenizer.json stage files (normalizers, pre_tokenizers, decoders, post_processors):
// typed JSON field access with the JSON path in errors, Sequence stages, and the {"String"} /
// {"Regex"} pattern several stages match with.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/components.h"
#include "tokenizer/regex.h"

namespace pt::tok {

using nlohmann::json;

inline bool bool_field(const json& j, const char* key, bool dflt, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return dflt;
  if (!j[key].is_boolean()) fail("{}.{}: expected true or false", where, key);
  return j[key].get<bool>();
}
inline std::string type_of(const json& j, const std::string& where) {
  if (!j.is_object()) fail("{}: expected an object", where);
  return string_field(j, "type", where);
}

// A {"type": "Sequence", <key>: [...]} of any stage kind: each element built by `make`, nulls skipped.
template <class Seq, class Make>
std::unique_ptr<Seq> make_sequence(const json& j, const char* key, const std::string& where, Make make) {
  auto seq = std::make_unique<Seq>();
  const auto& list = field(j, key, where);
  if (!list.is_array()) fail("{}.{}: expected a list", where, key);
  for (size_t i = 0; i < list.size(); ++i)
    if (auto part = make(list[i], fmt::format("{}.{}[{}]", where, key, i))) seq->parts.push_back(std::move(part));
  return seq;
}

// ------------------------------------------------------------------------------------------------
// Pattern = {"String": s} or {"Regex": r}: a literal or a PCRE2 regex, matched left to right.
class Pattern {
 public:
  Pattern(const json& j, const std::string& where) {
    if (j.is_object() && j.contains("String")) literal_ = j["String"].get<std::string>();
    else if (j.is_object() && j.contains("Regex")) regex_ = std::make_unique<Regex>(j["Regex"].get<std::string>());
    else fail("{}: pattern must be {{\"String\": ...}} or {{\"Regex\": ...}}", where);
  }
  static Pattern regex(const std::string& r) {
    Pattern p;
    p.regex_ = std::make_unique<Regex>(r);
    return p;
  }
  std::vector<std::pair<size_t, size_t>> find_all(const std::string& s) const {
    if (regex_) return regex_->find_all(s);
    std::vector<std::pair<size_t, size_t>> out;
    if (literal_.empty()) return out;
    for (size_t p = s.find(literal_); p != std::string::npos; p = s.find(literal_, p + literal_.size()))
      out.emplace_back(p, p + literal_.size());
    return out;
  }

 private:
  Pattern() = default;
  std::string literal_;
  std::unique_ptr<Regex> regex_;
};


}  // namespace pt::tok
