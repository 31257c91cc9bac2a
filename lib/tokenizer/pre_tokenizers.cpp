// tokenizer.json pre-tokenizers: Split (PCRE2), ByteLevel, Metaspace, Sequence and the split behaviors.
#include <utf8proc.h>

#include "core/error.h"
#include "tokenizer/component_helpers.h"
#include "tokenizer/components.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace pt::tok {

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

}  // namespace pt::tok
