#include "tokenizer/components.h"

#include <utf8proc.h>

#include "core/error.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace pt::tok {

using nlohmann::json;

const json& field(const json& j, const char* key, const std::string& where) {
  if (!j.is_object() || !j.contains(key)) fail("{}: missing field '{}'", where, key);
  return j[key];
}
std::string string_field(const json& j, const char* key, const std::string& where) {
  const auto& v = field(j, key, where);
  if (!v.is_string()) fail("{}.{}: expected a string", where, key);
  return v.get<std::string>();
}
static bool bool_field(const json& j, const char* key, bool dflt, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return dflt;
  if (!j[key].is_boolean()) fail("{}.{}: expected true or false", where, key);
  return j[key].get<bool>();
}
static std::string type_of(const json& j, const std::string& where) {
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

// ------------------------------------------------------------------------------------------------
// Pre-tokenizers

namespace {

enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

Behavior parse_behavior(const json& j, const std::string& where) {
  std::string b = string_field(j, "behavior", where);
  if (b == "Removed") return Behavior::Removed;
  if (b == "Isolated") return Behavior::Isolated;
  if (b == "MergedWithPrevious") return Behavior::MergedWithPrevious;
  if (b == "MergedWithNext") return Behavior::MergedWithNext;
  if (b == "Contiguous") return Behavior::Contiguous;
  fail("{}.behavior: '{}' is not one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous", where, b);
}

// HF's split: the matches and the gaps between them cover the string; the behaviour decides what
// happens to the matched parts.
void split_piece(const NormalizedString& s, const std::vector<std::pair<size_t, size_t>>& matches, Behavior behavior,
                 bool invert, std::vector<NormalizedString>& out) {
  std::vector<std::tuple<size_t, size_t, bool>> parts;  // begin, end, is_match
  size_t last = 0;
  for (auto [b, e] : matches) {
    if (b > last) parts.emplace_back(last, b, invert);
    parts.emplace_back(b, e, !invert);
    last = e;
  }
  if (last < s.text.size()) parts.emplace_back(last, s.text.size(), invert);
  std::vector<std::pair<size_t, size_t>> ranges;
  switch (behavior) {
    case Behavior::Removed:
      for (auto [b, e, m] : parts)
        if (!m) ranges.emplace_back(b, e);
      break;
    case Behavior::Isolated:
      for (auto [b, e, m] : parts) ranges.emplace_back(b, e);
      break;
    case Behavior::Contiguous: {
      bool prev_match = false;
      for (auto [b, e, m] : parts) {
        if (m && prev_match && !ranges.empty()) ranges.back().second = e;
        else ranges.emplace_back(b, e);
        prev_match = m;
      }
      break;
    }
    case Behavior::MergedWithPrevious: {
      bool prev_match = false;
      for (auto [b, e, m] : parts) {
        if (m && !prev_match && !ranges.empty()) ranges.back().second = e;
        else ranges.emplace_back(b, e);
        prev_match = m;
      }
      break;
    }
    case Behavior::MergedWithNext: {
      bool prev_match = false;
      for (auto [b, e, m] : parts) {
        if (!m && prev_match && !ranges.empty()) ranges.back().second = e;
        else ranges.emplace_back(b, e);
        prev_match = m;
      }
      break;
    }
  }
  for (auto [b, e] : ranges)
    if (e > b) out.push_back(s.slice(b, e));
}

class SequencePre : public PreTokenizer {
 public:
  std::vector<std::unique_ptr<PreTokenizer>> parts;
  void pre_tokenize(std::vector<NormalizedString>& pieces) const override {
    for (const auto& p : parts) p->pre_tokenize(pieces);
  }
};

class SplitPre : public PreTokenizer {
 public:
  SplitPre(const json& j, const std::string& where)
      : pattern_(field(j, "pattern", where), where + ".pattern"),
        behavior_(parse_behavior(j, where)),
        invert_(bool_field(j, "invert", false, where)) {}
  // The fixed-pattern pre-tokenizers (Whitespace, Digits, ...) are Splits with a built-in regex.
  SplitPre(const std::string& regex, Behavior b, bool invert = false)
      : pattern_(Pattern::regex(regex)), behavior_(b), invert_(invert) {}
  void pre_tokenize(std::vector<NormalizedString>& pieces) const override {
    std::vector<NormalizedString> out;
    for (const auto& p : pieces) split_piece(p, pattern_.find_all(p.text), behavior_, invert_, out);
    pieces = std::move(out);
  }

 private:
  Pattern pattern_;
  Behavior behavior_;
  bool invert_;
};

const char* kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class ByteLevelPre : public PreTokenizer {
 public:
  ByteLevelPre(const json& j, const std::string& where)
      : add_prefix_space_(bool_field(j, "add_prefix_space", true, where)), use_regex_(bool_field(j, "use_regex", true, where)) {
    if (use_regex_) regex_ = std::make_unique<Regex>(kGpt2Pattern);
  }
  void pre_tokenize(std::vector<NormalizedString>& pieces) const override {
    std::vector<NormalizedString> split;
    for (auto& p : pieces) {
      NormalizedString s = p;
      if (add_prefix_space_ && (s.text.empty() || s.text[0] != ' ')) {
        NormalizedString pre;
        pre.append(" ", s.original_span(0, s.text.empty() ? 0 : 1));
        pre.append_slice(s, 0, s.text.size());
        s = std::move(pre);
      }
      if (use_regex_) split_piece(s, regex_->find_all(s.text), Behavior::Isolated, false, split);
      else if (!s.text.empty()) split.push_back(std::move(s));
    }
    const auto& table = byte_to_unicode();
    for (auto& s : split) {
      NormalizedString mapped;
      for (size_t i = 0; i < s.text.size(); ++i) mapped.append(table[static_cast<unsigned char>(s.text[i])], s.align[i]);
      s = std::move(mapped);
    }
    pieces = std::move(split);
  }

 private:
  bool add_prefix_space_, use_regex_;
  std::unique_ptr<Regex> regex_;
};

class MetaspacePre : public PreTokenizer {
 public:
  MetaspacePre(const json& j, const std::string& where) {
    replacement_ = j.contains("replacement") ? j["replacement"].get<std::string>() : "\xE2\x96\x81";
    std::string scheme = j.contains("prepend_scheme") ? j["prepend_scheme"].get<std::string>()
                         : bool_field(j, "add_prefix_space", true, where) ? "always"
                                                                           : "never";
    if (scheme != "always" && scheme != "first" && scheme != "never")
      fail("{}.prepend_scheme: '{}' is not one of always, first, never", where, scheme);
    scheme_ = scheme;
    split_ = bool_field(j, "split", true, where);
  }
  void pre_tokenize(std::vector<NormalizedString>& pieces) const override {
    std::vector<NormalizedString> out;
    for (auto& p : pieces) {
      NormalizedString s;
      for (size_t i = 0; i < p.text.size(); ++i) {
        if (p.text[i] == ' ') s.append(replacement_, p.align[i]);
        else s.append_slice(p, i, i + 1);
      }
      bool first = !p.align.empty() && p.align[0].first == 0;
      if (scheme_ == "always" || (scheme_ == "first" && first)) {
        if (s.text.compare(0, replacement_.size(), replacement_) != 0) {
          NormalizedString pre;
          pre.append(replacement_, s.original_span(0, std::min<size_t>(1, s.text.size())));
          pre.append_slice(s, 0, s.text.size());
          s = std::move(pre);
        }
      }
      if (split_) {
        std::vector<std::pair<size_t, size_t>> m;
        for (size_t q = s.text.find(replacement_); q != std::string::npos; q = s.text.find(replacement_, q + replacement_.size()))
          m.emplace_back(q, q + replacement_.size());
        split_piece(s, m, Behavior::MergedWithNext, false, out);
      } else if (!s.text.empty()) {
        out.push_back(std::move(s));
      }
    }
    pieces = std::move(out);
  }

 private:
  std::string replacement_, scheme_;
  bool split_ = true;
};

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  std::string t = type_of(j, where);
  if (t == "Sequence")
    return make_sequence<SequencePre>(j, "pretokenizers", where, [](const json& e, const std::string& w) { return make_pre_tokenizer(e, w); });
  if (t == "Split") return std::make_unique<SplitPre>(j, where);
  if (t == "ByteLevel") return std::make_unique<ByteLevelPre>(j, where);
  if (t == "Metaspace") return std::make_unique<MetaspacePre>(j, where);
  // Whitespace keeps the matches and removes everything between them.
  if (t == "Whitespace") return std::make_unique<SplitPre>(R"(\w+|[^\w\s]+)", Behavior::Removed, true);
  if (t == "WhitespaceSplit") return std::make_unique<SplitPre>(R"(\s+)", Behavior::Removed);
  if (t == "Digits")
    return std::make_unique<SplitPre>(R"(\p{N})", bool_field(j, "individual_digits", false, where)
                                                     ? Behavior::Isolated
                                                     : Behavior::Contiguous);
  if (t == "Punctuation") return std::make_unique<SplitPre>(R"(\p{P})", Behavior::Isolated);
  fail("{}: pre-tokenizer type '{}' is not supported (supported: Sequence, Split, ByteLevel, Metaspace, Whitespace, "
       "WhitespaceSplit, Digits, Punctuation)",
       where, t);
}

// ------------------------------------------------------------------------------------------------
// Decoders

namespace {

class SequenceDecoder : public Decoder {
 public:
  std::vector<std::unique_ptr<Decoder>> parts;
  void decode_chain(std::vector<std::string>& t) const override {
    for (const auto& p : parts) p->decode_chain(t);
  }
};

class ByteLevelDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const auto& t : tokens) {
      std::string mapped;
      bool ok = true;
      size_t i = 0;
      while (i < t.size()) {
        size_t len;
        char32_t c = utf8_decode(t, i, &len);
        int b = unicode_to_byte(c);
        if (b < 0) {
          ok = false;
          break;
        }
        mapped.push_back(static_cast<char>(b));
        i += len;
      }
      bytes += ok ? mapped : t;  // tokens outside the byte table (added tokens) pass through as is
    }
    tokens = {utf8_lossy(bytes)};
  }
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(const json& j, const std::string& where)
      : pattern_(field(j, "pattern", where), where + ".pattern"), content_(string_field(j, "content", where)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) {
      auto m = pattern_.find_all(t);
      if (m.empty()) continue;
      std::string out;
      size_t last = 0;
      for (auto [b, e] : m) {
        out.append(t, last, b - last);
        out += content_;
        last = e;
      }
      out.append(t, last, std::string::npos);
      t = std::move(out);
    }
  }

 private:
  Pattern pattern_;
  std::string content_;
};

class ByteFallbackDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    std::string pending;
    size_t pending_count = 0;
    auto flush = [&] {
      if (!pending_count) return;
      if (utf8_valid(pending)) out.push_back(pending);
      else
        for (size_t i = 0; i < pending_count; ++i) out.push_back("\xEF\xBF\xBD");
      pending.clear();
      pending_count = 0;
    };
    for (const auto& t : tokens) {
      if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' && std::isxdigit(static_cast<unsigned char>(t[3])) &&
          std::isxdigit(static_cast<unsigned char>(t[4]))) {
        pending.push_back(static_cast<char>(std::stoi(t.substr(3, 2), nullptr, 16)));
        ++pending_count;
      } else {
        flush();
        out.push_back(t);
      }
    }
    flush();
    tokens = std::move(out);
  }
};

class FuseDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string all;
    for (const auto& t : tokens) all += t;
    tokens = {all};
  }
};

class StripDecoder : public Decoder {
 public:
  StripDecoder(const json& j, const std::string& where)
      : content_(string_field(j, "content", where)), start_(field(j, "start", where).get<size_t>()),
        stop_(field(j, "stop", where).get<size_t>()) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) {
      size_t b = 0, e = t.size();
      for (size_t k = 0; k < start_ && t.compare(b, content_.size(), content_) == 0 && b < e; ++k) b += content_.size();
      for (size_t k = 0; k < stop_ && e >= b + content_.size() &&
                         t.compare(e - content_.size(), content_.size(), content_) == 0;
           ++k)
        e -= content_.size();
      t = t.substr(b, e - b);
    }
  }

 private:
  std::string content_;
  size_t start_, stop_;
};

class WordPieceDecoder : public Decoder {
 public:
  WordPieceDecoder(const json& j, const std::string& where)
      : prefix_(j.contains("prefix") ? string_field(j, "prefix", where) : std::string("##")),
        cleanup_(bool_field(j, "cleanup", true, where)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& t = tokens[i];
      if (i != 0) {
        if (t.compare(0, prefix_.size(), prefix_) == 0) t = t.substr(prefix_.size());
        else t = " " + t;
      }
      if (cleanup_) {
        static const std::pair<const char*, const char*> rules[] = {
            {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
            {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
        for (const auto& [from, to] : rules) {
          std::string f(from), r(to), out;
          size_t last = 0;
          for (size_t p = t.find(f); p != std::string::npos; p = t.find(f, last)) {
            out.append(t, last, p - last);
            out += r;
            last = p + f.size();
          }
          out.append(t, last, std::string::npos);
          t = std::move(out);
        }
      }
    }
  }

 private:
  std::string prefix_;
  bool cleanup_;
};

class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(const json& j, const std::string& where) {
    replacement_ = j.contains("replacement") ? j["replacement"].get<std::string>() : "\xE2\x96\x81";
    std::string scheme = j.contains("prepend_scheme") ? j["prepend_scheme"].get<std::string>()
                         : bool_field(j, "add_prefix_space", true, where) ? "always"
                                                                           : "never";
    strip_first_ = scheme != "never";
  }
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string out;
      const std::string& t = tokens[i];
      for (size_t p = 0; p < t.size();) {
        if (t.compare(p, replacement_.size(), replacement_) == 0) {
          out += ' ';
          p += replacement_.size();
        } else {
          out += t[p++];
        }
      }
      if (i == 0 && strip_first_ && !out.empty() && out[0] == ' ') out.erase(0, 1);
      tokens[i] = std::move(out);
    }
  }

 private:
  std::string replacement_;
  bool strip_first_ = true;
};

}  // namespace

std::unique_ptr<Decoder> make_decoder(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  std::string t = type_of(j, where);
  if (t == "Sequence")
    return make_sequence<SequenceDecoder>(j, "decoders", where, [](const json& e, const std::string& w) { return make_decoder(e, w); });
  if (t == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (t == "Replace") return std::make_unique<ReplaceDecoder>(j, where);
  if (t == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (t == "Fuse") return std::make_unique<FuseDecoder>();
  if (t == "Strip") return std::make_unique<StripDecoder>(j, where);
  if (t == "Metaspace") return std::make_unique<MetaspaceDecoder>(j, where);
  if (t == "WordPiece") return std::make_unique<WordPieceDecoder>(j, where);
  fail("{}: decoder type '{}' is not supported (supported: Sequence, ByteLevel, Replace, ByteFallback, Fuse, Strip, "
       "Metaspace, WordPiece)",
       where, t);
}

// ------------------------------------------------------------------------------------------------
// Post-processors

namespace {

class TemplatePost : public PostProcessor {
 public:
  TemplatePost(const json& j, const std::string& where) {
    const auto& single = field(j, "single", where);
    const auto& specials = j.contains("special_tokens") ? j["special_tokens"] : json::object();
    bool seen_seq = false;
    for (size_t i = 0; i < single.size(); ++i) {
      const auto& item = single[i];
      if (item.contains("Sequence")) {
        seen_seq = true;
        continue;
      }
      if (!item.contains("SpecialToken")) fail("{}.single[{}]: expected SpecialToken or Sequence", where, i);
      std::string name = string_field(item["SpecialToken"], "id", where + ".single");
      if (!specials.contains(name)) fail("{}.special_tokens: no entry for '{}'", where, name);
      for (const auto& id : field(specials[name], "ids", where + ".special_tokens." + name))
        (seen_seq ? after_ : before_).push_back(id.get<int32_t>());
    }
  }
  void wrap(std::vector<int32_t>& b, std::vector<int32_t>& a) const override {
    b.insert(b.end(), before_.begin(), before_.end());
    a.insert(a.end(), after_.begin(), after_.end());
  }

 private:
  std::vector<int32_t> before_, after_;
};

class ClsSepPost : public PostProcessor {
 public:
  ClsSepPost(const json& j, const std::string& where) {
    cls_ = field(j, "cls", where)[1].get<int32_t>();
    sep_ = field(j, "sep", where)[1].get<int32_t>();
  }
  void wrap(std::vector<int32_t>& b, std::vector<int32_t>& a) const override {
    b.push_back(cls_);
    a.push_back(sep_);
  }

 private:
  int32_t cls_, sep_;
};

class SequencePost : public PostProcessor {
 public:
  std::vector<std::unique_ptr<PostProcessor>> parts;
  void wrap(std::vector<int32_t>& b, std::vector<int32_t>& a) const override {
    for (const auto& p : parts) p->wrap(b, a);
  }
};

class NoopPost : public PostProcessor {
 public:
  void wrap(std::vector<int32_t>&, std::vector<int32_t>&) const override {}
};

}  // namespace

std::unique_ptr<PostProcessor> make_post_processor(const json& j, const std::string& where,
                                                   const std::map<std::string, int32_t>&) {
  if (j.is_null()) return nullptr;
  std::string t = type_of(j, where);
  if (t == "Sequence")
    return make_sequence<SequencePost>(j, "processors", where, [](const json& e, const std::string& w) { return make_post_processor(e, w, {}); });
  if (t == "TemplateProcessing") return std::make_unique<TemplatePost>(j, where);
  if (t == "RobertaProcessing" || t == "BertProcessing") return std::make_unique<ClsSepPost>(j, where);
  if (t == "ByteLevel") return std::make_unique<NoopPost>();  // only trims offsets; ids unchanged
  fail("{}: post-processor type '{}' is not supported (supported: Sequence, TemplateProcessing, RobertaProcessing, "
       "BertProcessing, ByteLevel)",
       where, t);
}

}  // namespace pt::tok
