#pragma once
// Small text helpers shared across areas.
#include <string>
#include <string_view>

namespace pt {

inline bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

inline bool is_blank(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

// `s` without leading and trailing blanks (space, newline, tab, carriage return).
inline std::string trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \n\t\r");
  if (b == std::string_view::npos) return {};
  return std::string(s.substr(b, s.find_last_not_of(" \n\t\r") - b + 1));
}

}  // namespace pt
