#include "env/arithmetic.h"

#include <cctype>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace pt::env {

namespace {

// Recursive descent: expr = term (('+'|'-') term)*; term = power (('*'|'/') power)*;
// power = unary ('^' power)?; unary = '-' unary | atom; atom = number | '(' expr ')'.
class Parser {
 public:
  explicit Parser(const std::string& s) : s_(s) {}
  double parse() {
    const double v = expr();
    skip();
    if (i_ != s_.size()) error("unexpected '" + std::string(1, s_[i_]) + "'");
    if (!std::isfinite(v)) throw std::invalid_argument("the result is not a finite number");
    return v;
  }

 private:
  [[noreturn]] void error(const std::string& what) const {
    throw std::invalid_argument(fmt::format("{} at position {} of '{}'", what, i_, s_));
  }
  void skip() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  bool eat(char c) {
    skip();
    if (i_ < s_.size() && s_[i_] == c) return ++i_, true;
    return false;
  }
  double expr() {
    double v = term();
    for (;;) {
      if (eat('+')) v += term();
      else if (eat('-')) v -= term();
      else return v;
    }
  }
  double term() {
    double v = power();
    for (;;) {
      if (eat('*')) {
        v *= power();
      } else if (eat('/')) {
        const double d = power();
        if (d == 0) error("division by zero");
        v /= d;
      } else {
        return v;
      }
    }
  }
  double power() {
    const double base = unary();
    if (eat('^')) return std::pow(base, power());
    return base;
  }
  double unary() {
    if (eat('-')) return -unary();
    if (eat('+')) return unary();
    return atom();
  }
  double atom() {
    if (eat('(')) {
      const double v = expr();
      if (!eat(')')) error("missing ')'");
      return v;
    }
    skip();
    const size_t start = i_;
    while (i_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.' || s_[i_] == ',')) ++i_;
    std::string digits;
    for (size_t k = start; k < i_; ++k)
      if (s_[k] != ',') digits += s_[k];  // "1,234" is a thousands separator
    if (digits.empty() || digits == ".") error(i_ < s_.size() ? "expected a number" : "unexpected end");
    size_t used = 0;
    const double v = std::stod(digits, &used);
    if (used != digits.size()) error("malformed number '" + digits + "'");
    return v;
  }
  const std::string& s_;
  size_t i_ = 0;
};

}  // namespace

double evaluate_arithmetic(const std::string& expression) { return Parser(expression).parse(); }

std::string format_number(double v) {
  if (std::abs(v) < 1e15 && v == std::round(v)) return fmt::format("{}", static_cast<long long>(std::llround(v)));
  return fmt::format("{:.10g}", v);
}

}  // namespace pt::env
