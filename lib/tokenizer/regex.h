#pragma once
// PCRE2 (UTF + UCP, JIT when available) for the Unicode-property regexes of tokenizer.json.
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pt::tok {

class Regex {
 public:
  explicit Regex(const std::string& pattern);  // throws pt::Error naming the pattern on a bad regex
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  // All non-overlapping matches as byte ranges, left to right (empty matches skipped).
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pt::tok
