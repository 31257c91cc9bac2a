#include "tokenizer/jinja/lexer.h"

#include <cctype>

#include "core/error.h"

namespace pt::jinja::lex {

namespace {
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
}  // namespace

std::vector<Segment> split_segments(const std::string& s, const std::string& name) {
  std::vector<Segment> out;
  size_t pos = 0;
  int line = 1;
  bool strip_next = false;  // a `-%}` / `-}}` asked to strip the following whitespace
  bool trim_newline = false;  // trim_blocks after a block/comment tag
  auto count_lines = [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) line += s[i] == '\n';
  };
  while (pos <= s.size()) {
    size_t open = std::string::npos;
    for (size_t p = s.find('{', pos); p != std::string::npos && p + 1 < s.size(); p = s.find('{', p + 1))
      if (s[p + 1] == '{' || s[p + 1] == '%' || s[p + 1] == '#') {
        open = p;
        break;
      }
    std::string text = s.substr(pos, open == std::string::npos ? std::string::npos : open - pos);
    int text_line = line;
    count_lines(pos, open == std::string::npos ? s.size() : open);
    if (strip_next) {
      size_t k = 0;
      while (k < text.size() && is_space(text[k])) ++k;
      text = text.substr(k);
    } else if (trim_newline) {
      if (text.compare(0, 1, "\n") == 0) text = text.substr(1);
      else if (text.compare(0, 2, "\r\n") == 0) text = text.substr(2);
    }
    strip_next = trim_newline = false;
    if (open == std::string::npos) {
      if (!text.empty()) out.push_back({Segment::Kind::Text, text, text_line});
      break;
    }
    char kind = s[open + 1];
    bool minus_left = open + 2 < s.size() && s[open + 2] == '-';
    bool plus_left = open + 2 < s.size() && s[open + 2] == '+';
    if (minus_left) {
      size_t k = text.size();
      while (k > 0 && is_space(text[k - 1])) --k;
      text = text.substr(0, k);
    } else if (kind != '{' && !plus_left) {
      // lstrip_blocks: spaces/tabs between the line start and a block tag go away.
      size_t k = text.size();
      while (k > 0 && (text[k - 1] == ' ' || text[k - 1] == '\t')) --k;
      // The blanks sit at s[before, open); they start a line if preceded by a newline in the source.
      size_t before = open - (text.size() - k);
      bool at_line_start = before == 0 || s[before - 1] == '\n';
      if (at_line_start) text = text.substr(0, k);
    }
    if (!text.empty()) out.push_back({Segment::Kind::Text, text, text_line});
    const char* close = kind == '{' ? "}}" : kind == '%' ? "%}" : "#}";
    size_t inner_begin = open + 2 + ((minus_left || plus_left) ? 1 : 0);
    size_t close_pos = s.find(close, inner_begin);
    if (kind == '%' || kind == '{') {
      // Closing delimiters inside string literals do not end the tag.
      size_t p = inner_begin;
      char quote = 0;
      for (; p + 1 < s.size(); ++p) {
        char c = s[p];
        if (quote) {
          if (c == '\\') ++p;
          else if (c == quote) quote = 0;
        } else if (c == '\'' || c == '"') {
          quote = c;
        } else if (c == close[0] && s[p + 1] == close[1]) {
          break;
        }
      }
      close_pos = p + 1 < s.size() ? p : std::string::npos;
    }
    if (close_pos == std::string::npos)
      fail("{}:{}: unclosed '{}{}' tag (expected '{}')", name, line, '{', kind, close);
    size_t inner_end = close_pos;
    bool minus_right = inner_end > inner_begin && s[inner_end - 1] == '-';
    bool plus_right = inner_end > inner_begin && s[inner_end - 1] == '+';
    if (minus_right || plus_right) --inner_end;
    std::string inner = s.substr(inner_begin, inner_end - inner_begin);
    int tag_line = line;
    count_lines(open, close_pos + 2);
    if (kind == '{') out.push_back({Segment::Kind::Var, inner, tag_line});
    else if (kind == '%') out.push_back({Segment::Kind::Block, inner, tag_line});
    strip_next = minus_right;
    trim_newline = kind != '{' && !minus_right && !plus_right;
    pos = close_pos + 2;
  }
  return out;
}


std::vector<Tok> tokenize(const std::string& src, const std::string& where) {
  std::vector<Tok> out;
  size_t i = 0;
  while (i < src.size()) {
    char c = src[i];
    if (is_space(c)) {
      ++i;
      continue;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < src.size() && (std::isalnum(static_cast<unsigned char>(src[j])) || src[j] == '_')) ++j;
      out.push_back({Tok::T::Name, src.substr(i, j - i)});
      i = j;
      continue;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t j = i;
      while (j < src.size() && (std::isdigit(static_cast<unsigned char>(src[j])) || src[j] == '_')) ++j;
      bool is_float = j + 1 < src.size() && src[j] == '.' && std::isdigit(static_cast<unsigned char>(src[j + 1]));
      if (is_float) {
        ++j;
        while (j < src.size() && std::isdigit(static_cast<unsigned char>(src[j]))) ++j;
      }
      if (j < src.size() && (src[j] == 'e' || src[j] == 'E')) {
        size_t k = j + 1;
        if (k < src.size() && (src[k] == '+' || src[k] == '-')) ++k;
        if (k < src.size() && std::isdigit(static_cast<unsigned char>(src[k]))) {
          is_float = true;
          j = k;
          while (j < src.size() && std::isdigit(static_cast<unsigned char>(src[j]))) ++j;
        }
      }
      std::string num;
      for (size_t k = i; k < j; ++k)
        if (src[k] != '_') num += src[k];
      Tok t{is_float ? Tok::T::Float : Tok::T::Int, num};
      if (is_float) t.d = std::stod(num);
      else t.i = std::stoll(num);
      out.push_back(t);
      i = j;
      continue;
    }
    if (c == '\'' || c == '"') {
      std::string s;
      size_t j = i + 1;
      for (; j < src.size() && src[j] != c; ++j) {
        if (src[j] == '\\' && j + 1 < src.size()) {
          char e = src[++j];
          switch (e) {
            case 'n': s += '\n'; break;
            case 't': s += '\t'; break;
            case 'r': s += '\r'; break;
            case '\\': s += '\\'; break;
            case '\'': s += '\''; break;
            case '"': s += '"'; break;
            default: s += '\\'; s += e;
          }
        } else {
          s += src[j];
        }
      }
      if (j >= src.size()) fail("{}: unterminated string literal", where);
      out.push_back({Tok::T::String, s});
      i = j + 1;
      continue;
    }
    static const char* ops[] = {"**", "//", "==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "%", "~",
                                "|",  ".",  ",",  ":",  "(",  ")",  "[", "]", "{", "}", "="};
    bool matched = false;
    for (const char* op : ops) {
      size_t n = std::char_traits<char>::length(op);
      if (src.compare(i, n, op) == 0) {
        out.push_back({Tok::T::Op, op});
        i += n;
        matched = true;
        break;
      }
    }
    if (!matched) fail("{}: unexpected character '{}'", where, c);
  }
  out.push_back({Tok::T::End, ""});
  return out;
}

}  // namespace pt::jinja::lex
