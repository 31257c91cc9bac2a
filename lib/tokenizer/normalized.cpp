#include "tokenizer/normalized.h"

#include "tokenizer/unicode.h"

namespace pt::tok {

NormalizedString NormalizedString::from_original(const std::string& s, uint32_t base) {
  NormalizedString n;
  n.text = s;
  n.align.resize(s.size());
  size_t i = 0;
  while (i < s.size()) {
    size_t len = std::min(utf8_len(static_cast<unsigned char>(s[i])), s.size() - i);
    for (size_t k = 0; k < len; ++k)
      n.align[i + k] = {base + static_cast<uint32_t>(i), base + static_cast<uint32_t>(i + len)};
    i += len;
  }
  return n;
}

NormalizedString NormalizedString::slice(size_t begin, size_t end) const {
  NormalizedString n;
  n.text = text.substr(begin, end - begin);
  n.align.assign(align.begin() + static_cast<std::ptrdiff_t>(begin), align.begin() + static_cast<std::ptrdiff_t>(end));
  return n;
}

std::pair<uint32_t, uint32_t> NormalizedString::original_span(size_t begin, size_t end) const {
  if (begin >= end || end > align.size()) {
    uint32_t at = begin < align.size() ? align[begin].first : (align.empty() ? 0 : align.back().second);
    return {at, at};
  }
  return {align[begin].first, align[end - 1].second};
}

void NormalizedString::append(const std::string& bytes, std::pair<uint32_t, uint32_t> span) {
  text += bytes;
  align.insert(align.end(), bytes.size(), span);
}

void NormalizedString::append_slice(const NormalizedString& other, size_t begin, size_t end) {
  text.append(other.text, begin, end - begin);
  align.insert(align.end(), other.align.begin() + static_cast<std::ptrdiff_t>(begin),
               other.align.begin() + static_cast<std::ptrdiff_t>(end));
}

}  // namespace pt::tok
