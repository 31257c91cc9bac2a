#pragma once
// A string being normalized/pre-tokenized together with, for each of its bytes, the byte range of
// the ORIGINAL input it came from — so token offsets always point into the user's text (loss masks
// are computed from character spans of the rendered conversation).
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace pt::tok {

struct NormalizedString {
  std::string text;
  std::vector<std::pair<uint32_t, uint32_t>> align;  // one entry per byte of `text`

  static NormalizedString from_original(const std::string& s, uint32_t base = 0);
  NormalizedString slice(size_t begin, size_t end) const;  // byte range of `text`
  std::pair<uint32_t, uint32_t> original_span(size_t begin, size_t end) const;
  bool empty() const { return text.empty(); }
  // Append `bytes`, all aligned to `span` (replacement text inherits the span it replaced).
  void append(const std::string& bytes, std::pair<uint32_t, uint32_t> span);
  void append_slice(const NormalizedString& other, size_t begin, size_t end);
};

}  // namespace pt::tok
