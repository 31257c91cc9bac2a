#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/regex.h"

#include <pcre2.h>

#include <mutex>

#include "core/error.h"

namespace pt::tok {

struct Regex::Impl {
  pcre2_code* code = nullptr;
  bool jit = false;
};

namespace {
// tokenizer.json regexes are written for Rust's `regex` crate, whose \w follows UTS#18
// (Alphabetic, marks, decimal digits, connector punctuation, ZWNJ/ZWJ); PCRE2's UCP \w is only
// letters, digits and underscore. Rewrite \w / \W so that e.g. ZWJ emoji sequences split the same.
std::string rust_compatible(const std::string& p) {
  static const std::string kWord = "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\x{200C}\\x{200D}";
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      char n = p[i + 1];
      if (n == 'w') out += in_class ? kWord : "[" + kWord + "]";
      else if (n == 'W' && !in_class) out += "[^" + kWord + "]";
      else out += p.substr(i, 2);
      ++i;
      continue;
    }
    if (c == '[' && !in_class) in_class = true;
    else if (c == ']' && in_class && !(out.size() && (out.back() == '[' || (out.size() > 1 && out.back() == '^' && out[out.size() - 2] == '['))))
      in_class = false;
    out += c;
  }
  return out;
}
}  // namespace

Regex::Regex(const std::string& original) : impl_(std::make_unique<Impl>()) {
  const std::string pattern = rust_compatible(original);
  int err = 0;
  PCRE2_SIZE off = 0;
  // NO_UTF_CHECK at match time: we validate nothing, so allow invalid UTF-8 via MATCH_INVALID_UTF.
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                              PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &off, nullptr);
  if (!impl_->code) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(err, buf, sizeof(buf));
    fail("invalid regex '{}' at offset {}: {}", original, off, reinterpret_cast<char*>(buf));
  }
  impl_->jit = pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() {
  if (impl_ && impl_->code) pcre2_code_free(impl_->code);
}

std::vector<std::pair<size_t, size_t>> Regex::find_all(std::string_view text) const {
  std::vector<std::pair<size_t, size_t>> out;
  // Match data is per call: Regex objects are shared by encoder threads.
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(impl_->code, nullptr);
  size_t pos = 0;
  while (pos <= text.size()) {
    int rc = pcre2_match(impl_->code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), pos, 0, md, nullptr);
    if (rc < 0) break;
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    size_t b = ov[0], e = ov[1];
    if (e > b) {
      out.emplace_back(b, e);
      pos = e;
    } else {
      // Empty match: step one UTF-8 character to avoid looping.
      pos = e + 1;
      while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
    }
  }
  pcre2_match_data_free(md);
  return out;
}

}  // namespace pt::tok
