#pragma once
// The Jinja lexer: a template split into text / {{ variable }} / {% block %} segments under the
// environment transformers uses (trim_blocks, lstrip_blocks, whitespace control with - and +), and
// the tokens of one tag's inner source. The parser (parser.cpp) reads these.
#include <cstdint>
#include <string>
#include <vector>

namespace pt::jinja::lex {

struct Segment {
  enum class Kind { Text, Var, Block } kind;
  std::string src;  // text, or the tag's inner source
  int line;
};

struct Tok {
  enum class T { Name, String, Int, Float, Op, End } t;
  std::string s;
  int64_t i = 0;
  double d = 0;
};

// `name`: the template's name for errors (with the line).
std::vector<Segment> split_segments(const std::string& s, const std::string& name);
// `where`: "name:line" for errors.
std::vector<Tok> tokenize(const std::string& src, const std::string& where);

}  // namespace pt::jinja::lex
