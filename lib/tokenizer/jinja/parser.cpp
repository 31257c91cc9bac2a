// Recursive-descent parser for the Jinja subset of HF chat templates, over lexer.h's segments and
// tokens, with the environment transformers uses: trim_blocks=True, lstrip_blocks=True, loop controls.
#include <cctype>

#include "core/error.h"
#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/lexer.h"

namespace pt::jinja {

namespace {

using lex::Segment;
using lex::Tok;
using lex::split_segments;
using lex::tokenize;

class ExprParser {
 public:
  ExprParser(std::vector<Tok> toks, std::string where, int line) : t_(std::move(toks)), where_(std::move(where)), line_(line) {}

  bool at_end() const { return peek().t == Tok::T::End; }
  const Tok& peek(size_t k = 0) const { return t_[std::min(p_ + k, t_.size() - 1)]; }
  bool is_op(const char* s, size_t k = 0) const { return peek(k).t == Tok::T::Op && peek(k).s == s; }
  bool is_name(const char* s, size_t k = 0) const { return peek(k).t == Tok::T::Name && peek(k).s == s; }
  Tok next() { return t_[std::min(p_++, t_.size() - 1)]; }
  void expect_op(const char* s) {
    if (!is_op(s)) err(std::string("expected '") + s + "'");
    ++p_;
  }
  std::string expect_name() {
    if (peek().t != Tok::T::Name) err("expected a name");
    return next().s;
  }
  [[noreturn]] void err(const std::string& what) const {
    fail("{}:{}: {} near '{}'", where_, line_, what, peek().t == Tok::T::End ? "end of tag" : peek().s);
  }
  void expect_end() {
    if (!at_end()) err("unexpected token");
  }

  ExprPtr mk(Expr::Kind k) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->line = line_;
    return e;
  }

  // Top level: a tuple without parentheses is allowed (e.g. `for k, v in ...` values).
  ExprPtr expression() { return cond_expr(); }

  ExprPtr cond_expr() {
    auto e = or_expr();
    while (is_name("if")) {
      ++p_;
      auto c = mk(Expr::Kind::Cond);
      c->b = or_expr();  // condition
      c->a = std::move(e);
      if (is_name("else")) {
        ++p_;
        c->c = cond_expr();
      }
      e = std::move(c);
    }
    return e;
  }
  ExprPtr binary(ExprPtr l, const std::string& op, ExprPtr r) {
    auto e = mk(Expr::Kind::Binary);
    e->name = op;
    e->a = std::move(l);
    e->b = std::move(r);
    return e;
  }
  ExprPtr or_expr() {
    auto e = and_expr();
    while (is_name("or")) ++p_, e = binary(std::move(e), "or", and_expr());
    return e;
  }
  ExprPtr and_expr() {
    auto e = not_expr();
    while (is_name("and")) ++p_, e = binary(std::move(e), "and", not_expr());
    return e;
  }
  ExprPtr not_expr() {
    if (is_name("not")) {
      ++p_;
      auto e = mk(Expr::Kind::Unary);
      e->name = "not";
      e->a = not_expr();
      return e;
    }
    return compare();
  }
  // Python chains comparisons: `a < b < c` means `a < b and b < c` with b evaluated once, so a
  // chain of two or more operators becomes one "chain" node (operands in items, operators in kwargs).
  ExprPtr compare() {
    std::vector<ExprPtr> operands;
    std::vector<std::string> ops;
    operands.push_back(math1());
    while (true) {
      if (is_op("==") || is_op("!=") || is_op("<") || is_op(">") || is_op("<=") || is_op(">=")) {
        ops.push_back(next().s);
      } else if (is_name("in")) {
        ++p_;
        ops.push_back("in");
      } else if (is_name("not") && is_name("in", 1)) {
        p_ += 2;
        ops.push_back("not in");
      } else {
        break;
      }
      operands.push_back(math1());
    }
    if (ops.empty()) return std::move(operands[0]);
    if (ops.size() == 1) return binary(std::move(operands[0]), ops[0], std::move(operands[1]));
    auto e = mk(Expr::Kind::Binary);
    e->name = "chain";
    e->items = std::move(operands);
    for (auto& op : ops) e->kwargs.emplace_back(op, nullptr);
    return e;
  }
  ExprPtr math1() {
    auto e = concat();
    while (is_op("+") || is_op("-")) {
      std::string op = next().s;
      e = binary(std::move(e), op, concat());
    }
    return e;
  }
  ExprPtr concat() {
    auto e = math2();
    while (is_op("~")) ++p_, e = binary(std::move(e), "~", math2());
    return e;
  }
  ExprPtr math2() {
    auto e = power();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      std::string op = next().s;
      e = binary(std::move(e), op, power());
    }
    return e;
  }
  ExprPtr power() {
    auto e = unary();
    while (is_op("**")) ++p_, e = binary(std::move(e), "**", unary());
    return e;
  }
  ExprPtr unary() {
    if (is_op("-") || is_op("+")) {
      std::string op = next().s;
      auto e = mk(Expr::Kind::Unary);
      e->name = op;
      e->a = unary();
      return e;
    }
    return filters(postfix(primary()));
  }
  void call_args(Expr& e) {
    expect_op("(");
    while (!is_op(")")) {
      if (peek().t == Tok::T::Name && is_op("=", 1)) {
        std::string k = next().s;
        ++p_;
        e.kwargs.emplace_back(k, expression());
      } else {
        e.items.push_back(expression());
      }
      if (!is_op(",")) break;
      ++p_;
    }
    expect_op(")");
  }
  ExprPtr postfix(ExprPtr e) {
    while (true) {
      if (is_op(".")) {
        ++p_;
        auto a = mk(Expr::Kind::Attr);
        if (peek().t == Tok::T::Int) a->name = std::to_string(next().i);
        else a->name = expect_name();
        a->a = std::move(e);
        e = std::move(a);
      } else if (is_op("[")) {
        ++p_;
        ExprPtr lo, hi, step;
        bool slice = false;
        if (!is_op(":")) lo = expression();
        if (is_op(":")) {
          slice = true;
          ++p_;
          if (!is_op("]") && !is_op(":")) hi = expression();
          if (is_op(":")) {
            ++p_;
            if (!is_op("]")) step = expression();
          }
        }
        expect_op("]");
        if (slice) {
          auto s = mk(Expr::Kind::Slice);
          s->a = std::move(e);
          s->b = std::move(lo);
          s->c = std::move(hi);
          s->items.push_back(std::move(step));
          e = std::move(s);
        } else {
          auto it = mk(Expr::Kind::Item);
          it->a = std::move(e);
          it->b = std::move(lo);
          e = std::move(it);
        }
      } else if (is_op("(")) {
        auto c = mk(Expr::Kind::Call);
        c->a = std::move(e);
        call_args(*c);
        e = std::move(c);
      } else {
        return e;
      }
    }
  }
  ExprPtr filters(ExprPtr e) {
    while (true) {
      if (is_op("|")) {
        ++p_;
        auto f = mk(Expr::Kind::Filter);
        f->name = expect_name();
        f->a = std::move(e);
        if (is_op("(")) call_args(*f);
        e = std::move(f);
      } else if (is_name("is")) {
        ++p_;
        auto t = mk(Expr::Kind::Test);
        if (is_name("not")) ++p_, t->negated = true;
        t->name = peek().t == Tok::T::Name ? next().s : err_name();
        t->a = std::move(e);
        if (is_op("(")) call_args(*t);
        else if (peek().t == Tok::T::String || peek().t == Tok::T::Int || peek().t == Tok::T::Float ||
                 (peek().t == Tok::T::Name && !is_name("and") && !is_name("or") && !is_name("if") &&
                  !is_name("else") && !is_name("in") && !is_name("not") && !is_name("is")))
          t->items.push_back(primary());  // `is equalto 3`, `is divisibleby 2`
        e = std::move(t);
      } else {
        return e;
      }
    }
  }
  std::string err_name() { err("expected a test name"); }
  ExprPtr primary() {
    const Tok& tk = peek();
    if (tk.t == Tok::T::String) {
      std::string s = next().s;
      while (peek().t == Tok::T::String) s += next().s;  // adjacent literals concatenate
      auto e = mk(Expr::Kind::Literal);
      e->literal = Value(s);
      return e;
    }
    if (tk.t == Tok::T::Int || tk.t == Tok::T::Float) {
      Tok n = next();
      auto e = mk(Expr::Kind::Literal);
      e->literal = n.t == Tok::T::Int ? Value(n.i) : Value(n.d);
      return e;
    }
    if (tk.t == Tok::T::Name) {
      std::string n = next().s;
      auto e = mk(Expr::Kind::Literal);
      if (n == "true" || n == "True") e->literal = Value(true);
      else if (n == "false" || n == "False") e->literal = Value(false);
      else if (n == "none" || n == "None") e->literal = Value::none();
      else {
        e->kind = Expr::Kind::Name;
        e->name = n;
      }
      return e;
    }
    if (is_op("(")) {
      ++p_;
      if (is_op(")")) {
        ++p_;
        return mk(Expr::Kind::Tuple);
      }
      auto first = expression();
      if (is_op(",")) {
        auto t = mk(Expr::Kind::Tuple);
        t->items.push_back(std::move(first));
        while (is_op(",")) {
          ++p_;
          if (is_op(")")) break;
          t->items.push_back(expression());
        }
        expect_op(")");
        return t;
      }
      expect_op(")");
      return first;
    }
    if (is_op("[")) {
      ++p_;
      auto l = mk(Expr::Kind::List);
      while (!is_op("]")) {
        l->items.push_back(expression());
        if (!is_op(",")) break;
        ++p_;
      }
      expect_op("]");
      return l;
    }
    if (is_op("{")) {
      ++p_;
      auto d = mk(Expr::Kind::Dict);
      while (!is_op("}")) {
        d->items.push_back(expression());
        expect_op(":");
        d->items.push_back(expression());
        if (!is_op(",")) break;
        ++p_;
      }
      expect_op("}");
      return d;
    }
    err("expected an expression");
  }

  size_t p_ = 0;

 private:
  std::vector<Tok> t_;
  std::string where_;
  int line_;
};

class Parser {
 public:
  Parser(std::vector<Segment> segs, std::string name) : segs_(std::move(segs)), name_(std::move(name)) {}

  Body parse_body(const std::vector<std::string>& enders, std::string* ended_by) {
    Body body;
    while (i_ < segs_.size()) {
      const Segment& s = segs_[i_];
      if (s.kind == Segment::Kind::Text) {
        auto st = std::make_unique<Stmt>();
        st->kind = Stmt::Kind::Text;
        st->text = s.src;
        st->line = s.line;
        body.push_back(std::move(st));
        ++i_;
        continue;
      }
      ExprParser ep(tokenize(s.src, name_ + ":" + std::to_string(s.line)), name_, s.line);
      if (s.kind == Segment::Kind::Var) {
        auto st = std::make_unique<Stmt>();
        st->kind = Stmt::Kind::Print;
        st->line = s.line;
        st->expr = ep.expression();
        ep.expect_end();
        body.push_back(std::move(st));
        ++i_;
        continue;
      }
      std::string kw = ep.peek().t == Tok::T::Name ? ep.peek().s : "";
      for (const auto& e : enders)
        if (kw == e) {
          if (ended_by) *ended_by = kw;
          return body;
        }
      ++i_;
      ep.next();
      body.push_back(statement(kw, ep, s.line));
    }
    if (!enders.empty()) {
      std::string want;
      for (const auto& e : enders) want += (want.empty() ? "'" : " or '") + e + "'";
      if (open_blocks_.empty()) fail("{}: unexpected end of template, expected {}", name_, want);
      fail("{}:{}: '{{% {} %}}' is never closed (reached the end of the template looking for {})", name_,
           open_blocks_.back().second, open_blocks_.back().first, want);
    }
    return body;
  }

  // One branch per statement keyword (if/for/set/macro/call/filter/...): long on purpose, the
  // grammar of the block tags in one place.
  StmtPtr statement(const std::string& kw, ExprParser& ep, int line) {
    // Remember where each enclosing block opened, so an unclosed one is reported at its tag.
    struct OpenBlock {
      std::vector<std::pair<std::string, int>>& v;
      OpenBlock(std::vector<std::pair<std::string, int>>& v_, const std::string& k, int l) : v(v_) { v.emplace_back(k, l); }
      ~OpenBlock() { v.pop_back(); }
    } open_guard(open_blocks_, kw, line);
    auto st = std::make_unique<Stmt>();
    st->line = line;
    std::string ended;
    if (kw == "if") {
      st->kind = Stmt::Kind::If;
      auto cond = ep.expression();
      ep.expect_end();
      while (true) {
        Body b = parse_body({"elif", "else", "endif"}, &ended);
        st->branches.emplace_back(std::move(cond), std::move(b));
        ExprParser tail(tokenize(segs_[i_].src, name_), name_, segs_[i_].line);
        tail.next();
        ++i_;
        if (ended == "elif") {
          cond = tail.expression();
          tail.expect_end();
        } else if (ended == "else") {
          tail.expect_end();
          st->branches.emplace_back(nullptr, parse_body({"endif"}, &ended));
          ++i_;
          break;
        } else {
          break;
        }
      }
      return st;
    }
    if (kw == "for") {
      st->kind = Stmt::Kind::For;
      st->targets.push_back(ep.expect_name());
      while (ep.is_op(",")) ep.next(), st->targets.push_back(ep.expect_name());
      if (!ep.is_name("in")) ep.err("expected 'in'");
      ep.next();
      st->expr = ep.or_expr();  // `if` here is the loop filter, not an inline if
      if (ep.is_name("if")) ep.next(), st->cond = ep.expression();
      if (ep.is_name("recursive")) ep.next(), st->recursive = true;
      ep.expect_end();
      st->body = parse_body({"else", "endfor"}, &ended);
      ++i_;
      if (ended == "else") {
        st->else_body = parse_body({"endfor"}, &ended);
        ++i_;
      }
      return st;
    }
    if (kw == "set") {
      std::string target = ep.expect_name();
      st->targets.push_back(target);
      if (ep.is_op(".")) {
        ep.next();
        st->targets.push_back(ep.expect_name());
      }
      if (ep.is_op("=")) {
        ep.next();
        st->kind = Stmt::Kind::Set;
        auto e = ep.expression();
        if (ep.is_op(",")) {  // `set a = 1, 2` builds a tuple
          auto t = ep.mk(Expr::Kind::Tuple);
          t->items.push_back(std::move(e));
          while (ep.is_op(",")) ep.next(), t->items.push_back(ep.expression());
          e = std::move(t);
        }
        st->expr = std::move(e);
        ep.expect_end();
        return st;
      }
      st->kind = Stmt::Kind::SetBlock;
      ep.expect_end();
      st->body = parse_body({"endset"}, &ended);
      ++i_;
      return st;
    }
    if (kw == "macro") {
      st->kind = Stmt::Kind::Macro;
      st->name = ep.expect_name();
      ep.expect_op("(");
      while (!ep.is_op(")")) {
        std::string p = ep.expect_name();
        ExprPtr dflt;
        if (ep.is_op("=")) ep.next(), dflt = ep.expression();
        st->params.emplace_back(p, std::move(dflt));
        if (!ep.is_op(",")) break;
        ep.next();
      }
      ep.expect_op(")");
      ep.expect_end();
      st->body = parse_body({"endmacro"}, &ended);
      ++i_;
      return st;
    }
    if (kw == "filter") {
      st->kind = Stmt::Kind::FilterBlock;
      auto f = ep.mk(Expr::Kind::Filter);
      f->name = ep.expect_name();
      if (ep.is_op("(")) ep.call_args(*f);
      st->expr = std::move(f);
      ep.expect_end();
      st->body = parse_body({"endfilter"}, &ended);
      ++i_;
      return st;
    }
    if (kw == "generation") {
      st->kind = Stmt::Kind::Generation;
      ep.expect_end();
      st->body = parse_body({"endgeneration"}, &ended);
      ++i_;
      return st;
    }
    if (kw == "break" || kw == "continue") {
      st->kind = kw == "break" ? Stmt::Kind::Break : Stmt::Kind::Continue;
      ep.expect_end();
      return st;
    }
    fail("{}:{}: unknown or unexpected tag '{}'", name_, line, kw.empty() ? "?" : kw);
  }

 private:
  std::vector<Segment> segs_;
  std::string name_;
  std::vector<std::pair<std::string, int>> open_blocks_;  // (keyword, line) of blocks being parsed
  size_t i_ = 0;
};

}  // namespace

std::shared_ptr<Template> parse(const std::string& source, const std::string& name) {
  Parser p(split_segments(source, name), name);
  auto t = std::make_shared<Template>();
  t->source_name = name;
  t->body = p.parse_body({}, nullptr);
  return t;
}

}  // namespace pt::jinja
