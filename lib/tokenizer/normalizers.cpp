// tokenizer.json normalizers: NFC/NFD/NFKC/NFKD (utf8proc), Lowercase, StripAccents, Replace,
// Prepend, Strip, Sequence — each keeping the alignment to the original bytes.
#include <utf8proc.h>

#include "core/error.h"
#include "tokenizer/component_helpers.h"
#include "tokenizer/components.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace pt::tok {

// ------------------------------------------------------------------------------------------------
// Normalizers

namespace {

class SequenceNormalizer : public Normalizer {
 public:
  std::vector<std::unique_ptr<Normalizer>> parts;
  void normalize(NormalizedString& s) const override {
    for (const auto& p : parts) p->normalize(s);
  }
};

// Unicode normalization forms. Composition only happens inside a run that starts at a starter, so we
// normalize maximal runs that contain non-ASCII text (plus the ASCII character before them, which
// may compose with a following mark) and align each run's output to the run's original span.
class UnicodeNormalizer : public Normalizer {
 public:
  explicit UnicodeNormalizer(utf8proc_option_t opts) : opts_(opts) {}
  void normalize(NormalizedString& s) const override {
    bool ascii = true;
    for (unsigned char c : s.text) ascii = ascii && c < 0x80;
    if (ascii) return;
    NormalizedString out;
    size_t i = 0;
    const std::string& t = s.text;
    while (i < t.size()) {
      // ASCII followed by ASCII (or the end) is stable under every form.
      if (static_cast<unsigned char>(t[i]) < 0x80 &&
          (i + 1 >= t.size() || static_cast<unsigned char>(t[i + 1]) < 0x80)) {
        out.append_slice(s, i, i + 1);
        ++i;
        continue;
      }
      size_t j = i + (static_cast<unsigned char>(t[i]) < 0x80 ? 1 : 0);
      while (j < t.size() && static_cast<unsigned char>(t[j]) >= 0x80) ++j;
      run(s, i, j, out);
      i = j;
    }
    s = std::move(out);
  }

 private:
  void run(const NormalizedString& s, size_t b, size_t e, NormalizedString& out) const {
    utf8proc_uint8_t* res = nullptr;
    auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.text.data() + b),
                          static_cast<utf8proc_ssize_t>(e - b), &res, opts_);
    if (n < 0) {  // invalid UTF-8 inside: keep as is
      out.append_slice(s, b, e);
      return;
    }
    std::string r(reinterpret_cast<char*>(res), static_cast<size_t>(n));
    free(res);
    if (r == std::string_view(s.text).substr(b, e - b)) {
      out.append_slice(s, b, e);
      return;
    }
    // Keep per-character alignment when the character count is unchanged; otherwise the whole run.
    size_t count_in = 0, count_out = 0;
    for (size_t k = b; k < e; k += utf8_len(static_cast<unsigned char>(s.text[k]))) ++count_in;
    for (size_t k = 0; k < r.size(); k += utf8_len(static_cast<unsigned char>(r[k]))) ++count_out;
    if (count_in == count_out) {
      size_t k_in = b, k_out = 0;
      while (k_out < r.size()) {
        size_t li = utf8_len(static_cast<unsigned char>(s.text[k_in])), lo = utf8_len(static_cast<unsigned char>(r[k_out]));
        out.append(r.substr(k_out, lo), s.original_span(k_in, k_in + li));
        k_in += li;
        k_out += lo;
      }
    } else {
      out.append(r, s.original_span(b, e));
    }
  }
  utf8proc_option_t opts_;
};

class LowercaseNormalizer : public Normalizer {
 public:
  void normalize(NormalizedString& s) const override {
    NormalizedString out;
    size_t i = 0;
    while (i < s.text.size()) {
      size_t len;
      char32_t c = utf8_decode(s.text, i, &len);
      std::string lc;
      utf8_append(lc, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
      if (c == 0xFFFD && len == 1) lc = s.text.substr(i, 1);
      out.append(lc, s.original_span(i, i + len));
      i += len;
    }
    s = std::move(out);
  }
};

// Drops combining marks (Unicode category M*), as HF's StripAccents (used after NFD).
class StripAccentsNormalizer : public Normalizer {
 public:
  void normalize(NormalizedString& s) const override {
    NormalizedString out;
    size_t i = 0;
    while (i < s.text.size()) {
      size_t len;
      char32_t c = utf8_decode(s.text, i, &len);
      auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
      bool mark = cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_MC || cat == UTF8PROC_CATEGORY_ME;
      if (!mark) out.append_slice(s, i, i + len);
      i += len;
    }
    s = std::move(out);
  }
};

class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(const json& j, const std::string& where)
      : pattern_(field(j, "pattern", where), where + ".pattern"), content_(string_field(j, "content", where)) {}
  void normalize(NormalizedString& s) const override {
    auto matches = pattern_.find_all(s.text);
    if (matches.empty()) return;
    NormalizedString out;
    size_t last = 0;
    for (auto [b, e] : matches) {
      out.append_slice(s, last, b);
      out.append(content_, s.original_span(b, e));
      last = e;
    }
    out.append_slice(s, last, s.text.size());
    s = std::move(out);
  }

 private:
  Pattern pattern_;
  std::string content_;
};

class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string p) : prepend_(std::move(p)) {}
  void normalize(NormalizedString& s) const override {
    if (s.text.empty()) return;
    NormalizedString out;
    out.append(prepend_, s.original_span(0, utf8_len(static_cast<unsigned char>(s.text[0]))));
    out.append_slice(s, 0, s.text.size());
    s = std::move(out);
  }

 private:
  std::string prepend_;
};

class StripNormalizer : public Normalizer {
 public:
  StripNormalizer(bool l, bool r) : left_(l), right_(r) {}
  void normalize(NormalizedString& s) const override {
    size_t b = 0, e = s.text.size();
    if (left_)
      while (b < e) {
        size_t len;
        char32_t c = utf8_decode(s.text, b, &len);
        if (!is_whitespace(c)) break;
        b += len;
      }
    if (right_)
      while (e > b) {
        size_t k = e - 1;
        while (k > b && (static_cast<unsigned char>(s.text[k]) & 0xC0) == 0x80) --k;
        size_t len;
        char32_t c = utf8_decode(s.text, k, &len);
        if (!is_whitespace(c)) break;
        e = k;
      }
    s = s.slice(b, e);
  }

 private:
  bool left_, right_;
};

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  std::string t = type_of(j, where);
  if (t == "Sequence")
    return make_sequence<SequenceNormalizer>(j, "normalizers", where, [](const json& e, const std::string& w) { return make_normalizer(e, w); });
  if (t == "NFC") return std::make_unique<UnicodeNormalizer>(utf8proc_option_t(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (t == "NFD") return std::make_unique<UnicodeNormalizer>(utf8proc_option_t(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE));
  if (t == "NFKC")
    return std::make_unique<UnicodeNormalizer>(utf8proc_option_t(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT));
  if (t == "NFKD")
    return std::make_unique<UnicodeNormalizer>(utf8proc_option_t(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT));
  if (t == "Lowercase") return std::make_unique<LowercaseNormalizer>();
  if (t == "StripAccents") return std::make_unique<StripAccentsNormalizer>();
  if (t == "Replace") return std::make_unique<ReplaceNormalizer>(j, where);
  if (t == "Prepend") return std::make_unique<PrependNormalizer>(string_field(j, "prepend", where));
  if (t == "Strip") return std::make_unique<StripNormalizer>(bool_field(j, "strip_left", true, where),
                                                             bool_field(j, "strip_right", true, where));
  fail("{}: normalizer type '{}' is not supported (supported: Sequence, NFC, NFD, NFKC, NFKD, Lowercase, StripAccents, Replace, "
       "Prepend, Strip)",
       where, t);
}

}  // namespace pt::tok
