#pragma once
// Errors carry where the bad input is (file:line:column and/or a key path) so every failure a user
// sees names the file, line or key and what was expected.
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace pt {

struct Location {
  std::string file;     // path of the offending file ("" when not from a file)
  int line = 0;         // 1-based; 0 = unknown
  int column = 0;       // 1-based; 0 = unknown
  std::string key;      // dotted key path inside the document, e.g. "optimizer.lr"

  bool empty() const { return file.empty() && line == 0 && key.empty(); }
  // "file:line:col (key)" with the unknown parts left out.
  std::string str() const;
};

class Error : public std::runtime_error {
 public:
  explicit Error(std::string message) : std::runtime_error(message), message_(std::move(message)) {}
  Error(Location where, std::string message);
  const Location& where() const { return where_; }
  const std::string& message() const { return message_; }  // without the location prefix

 private:
  Location where_;
  std::string message_;
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw Error(fmt::format(f, std::forward<Args>(args)...));
}

template <typename... Args>
[[noreturn]] void fail_at(Location where, fmt::format_string<Args...> f, Args&&... args) {
  throw Error(std::move(where), fmt::format(f, std::forward<Args>(args)...));
}

#define PT_CHECK(cond, ...)                  \
  do {                                       \
    if (!(cond)) ::pt::fail(__VA_ARGS__);    \
  } while (0)

// Levenshtein-based suggestion: the candidate closest to `word`, or "" if none is close enough.
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace pt
