#include "tokenizer/unicode.h"

#include <vector>

#include <utf8proc.h>

namespace pt::tok {

char32_t utf8_decode(std::string_view s, size_t i, size_t* len) {
  utf8proc_int32_t cp = 0;
  auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + i),
                            static_cast<utf8proc_ssize_t>(s.size() - i), &cp);
  if (n <= 0) {
    *len = 1;
    return 0xFFFD;
  }
  *len = static_cast<size_t>(n);
  return static_cast<char32_t>(cp);
}

void utf8_append(std::string& out, char32_t cp) {
  utf8proc_uint8_t buf[4];
  auto n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(cp), buf);
  out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

bool is_whitespace(char32_t c) {
  return (c >= 0x9 && c <= 0xD) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

namespace {
struct ByteTables {
  std::array<std::string, 256> to_unicode;
  std::vector<int> from_unicode = std::vector<int>(512, -1);
  ByteTables() {
    // Printable Latin-1 bytes map to themselves; the rest to 256 + k in order.
    std::array<int, 256> cps{};
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      cps[b] = printable ? b : 256 + n++;
    }
    for (int b = 0; b < 256; ++b) {
      utf8_append(to_unicode[b], static_cast<char32_t>(cps[b]));
      from_unicode[cps[b]] = b;
    }
  }
};
const ByteTables& tables() {
  static const ByteTables t;
  return t;
}
}  // namespace

const std::array<std::string, 256>& byte_to_unicode() { return tables().to_unicode; }

int unicode_to_byte(char32_t cp) { return cp < 512 ? tables().from_unicode[cp] : -1; }

// Per the Unicode "maximal subpart" practice that Rust's from_utf8_lossy follows: each invalid
// maximal subpart of a sequence becomes one U+FFFD.
std::string utf8_lossy(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    unsigned char b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      out.push_back(static_cast<char>(b));
      ++i;
      continue;
    }
    size_t need = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) need = 1;
    else if (b == 0xE0) need = 2, lo = 0xA0;
    else if (b >= 0xE1 && b <= 0xEC) need = 2;
    else if (b == 0xED) need = 2, hi = 0x9F;
    else if (b >= 0xEE && b <= 0xEF) need = 2;
    else if (b == 0xF0) need = 3, lo = 0x90;
    else if (b >= 0xF1 && b <= 0xF3) need = 3;
    else if (b == 0xF4) need = 3, hi = 0x8F;
    else {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    size_t j = 1;
    for (; j <= need && i + j < s.size(); ++j) {
      unsigned char c = static_cast<unsigned char>(s[i + j]);
      if (j == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) break;
    }
    if (j == need + 1) {
      out.append(s.substr(i, need + 1));
      i += need + 1;
    } else {
      out += "\xEF\xBF\xBD";
      i += j;  // the valid prefix of a truncated sequence is one maximal subpart
    }
  }
  return out;
}

bool utf8_valid(std::string_view s) { return utf8_lossy(s) == s; }

}  // namespace pt::tok
