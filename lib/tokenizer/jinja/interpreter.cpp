// Tree-walking evaluator. Scoping follows Jinja: for-loop bodies and macros get their own scope
// (which is why templates use namespace() to carry state out of loops); if-blocks do not.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>

#include "core/error.h"
#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/template.h"

namespace pt::jinja {

namespace {

struct LoopControl {
  enum Kind { None, Break, Continue } kind = None;
};

class Interpreter {
 public:
  Interpreter(const Template& t, std::shared_ptr<Dict> ctx) : tpl_(t) {
    scopes_.push_back(std::make_shared<Dict>());
    globals_ = std::move(ctx);
  }

  RenderResult run() {
    LoopControl lc;
    exec_body(tpl_.body, out_.text, lc);
    return std::move(out_);
  }

  [[noreturn]] void err(int line, const std::string& msg) const { fail("{}:{}: {}", tpl_.source_name, line, msg); }

  Value lookup(const std::string& name) const {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it)
      if (const Value* v = (*it)->find(name)) return *v;
    if (const Value* v = globals_->find(name)) return *v;
    return builtin_global(name);
  }
  void assign(const std::string& name, Value v) { scopes_.back()->set(name, std::move(v)); }

  Value eval(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::Literal: return e.literal;
      case Expr::Kind::Name: return lookup(e.name);
      case Expr::Kind::List:
      case Expr::Kind::Tuple: {
        List l;
        for (const auto& i : e.items) l.push_back(eval(*i));
        return Value(std::move(l));
      }
      case Expr::Kind::Dict: {
        auto d = std::make_shared<Dict>();
        for (size_t i = 0; i + 1 < e.items.size(); i += 2) d->set(eval(*e.items[i]).to_string(), eval(*e.items[i + 1]));
        return Value(d);
      }
      case Expr::Kind::Attr: return get_attr(eval(*e.a), e.name, e.line);
      case Expr::Kind::Item: return get_item(eval(*e.a), eval(*e.b), e.line);
      case Expr::Kind::Slice: {
        Value target = eval(*e.a);
        Value lo = e.b ? eval(*e.b) : Value::none(), hi = e.c ? eval(*e.c) : Value::none();
        Value step = e.items[0] ? eval(*e.items[0]) : Value::none();
        return slice(target, lo, hi, step, e.line);
      }
      case Expr::Kind::Call: {
        Args args = eval_args(e);
        if (e.a->kind == Expr::Kind::Attr) {  // method call on a value: x.strip(), d.items(), ...
          Value self = eval(*e.a->a);
          if (!self.is_dict() || !self.dict().find(e.a->name)) return call_method(self, e.a->name, args, e.line);
        }
        Value f = eval(*e.a);
        if (!f.is_function()) err(e.line, "'" + describe(*e.a) + "' is not callable (it is " + f.type_name() + ")");
        return f.fn()(args);
      }
      case Expr::Kind::Filter: {
        Args args = eval_args(e);
        args.positional.insert(args.positional.begin(), eval(*e.a));
        return apply_filter(e.name, args, e.line);
      }
      case Expr::Kind::Test: {
        Args args = eval_args(e);
        args.positional.insert(args.positional.begin(), eval(*e.a));
        bool r = apply_test(e.name, args, e.line);
        return Value(e.negated ? !r : r);
      }
      case Expr::Kind::Unary: {
        Value v = eval(*e.a);
        if (e.name == "not") return Value(!v.truthy());
        if (!v.is_number()) err(e.line, "unary " + e.name + " needs a number, got " + v.type_name());
        if (e.name == "-") return v.is_int() ? Value(-v.as_int()) : Value(-v.as_float());
        return v;
      }
      case Expr::Kind::Binary: return binary(e);
      case Expr::Kind::Cond: {
        if (eval(*e.b).truthy()) return eval(*e.a);
        return e.c ? eval(*e.c) : Value();
      }
    }
    return Value();
  }

  static std::string describe(const Expr& e) {
    if (e.kind == Expr::Kind::Name) return e.name;
    if (e.kind == Expr::Kind::Attr) return describe(*e.a) + "." + e.name;
    return "expression";
  }

  Args eval_args(const Expr& e) {
    Args a;
    for (const auto& i : e.items) a.positional.push_back(eval(*i));
    for (const auto& [k, v] : e.kwargs) a.keyword.emplace_back(k, eval(*v));
    return a;
  }

  Value get_attr(const Value& v, const std::string& name, int line) {
    if (v.is_dict()) {
      if (const Value* f = v.dict().find(name)) return *f;
      return Value();
    }
    if (v.is_list() && !name.empty() && std::isdigit(static_cast<unsigned char>(name[0])))
      return get_item(v, Value(static_cast<int64_t>(std::stoll(name))), line);
    return Value();  // Jinja: missing attributes are undefined
  }

  Value get_item(const Value& v, const Value& key, int line) {
    if (v.is_dict()) {
      if (const Value* f = v.dict().find(key.to_string())) return *f;
      return Value();
    }
    if (v.is_list() || v.is_string()) {
      if (!key.is_int()) return Value();
      int64_t n = v.is_list() ? static_cast<int64_t>(v.list().size()) : static_cast<int64_t>(v.str_ref().size());
      int64_t i = key.as_int();
      if (i < 0) i += n;
      if (i < 0 || i >= n) return Value();
      if (v.is_list()) return v.list()[static_cast<size_t>(i)];
      return Value(std::string(1, v.str_ref()[static_cast<size_t>(i)]));
    }
    if (v.is_undefined()) err(line, "cannot index an undefined value");
    return Value();
  }

  Value slice(const Value& v, const Value& lo_v, const Value& hi_v, const Value& step_v, int line) {
    if (!v.is_list() && !v.is_string()) err(line, std::string("cannot slice a ") + v.type_name());
    int64_t n = v.is_list() ? static_cast<int64_t>(v.list().size()) : static_cast<int64_t>(v.str_ref().size());
    int64_t step = step_v.is_none() ? 1 : step_v.as_int();
    if (step == 0) err(line, "slice step cannot be zero");
    auto norm = [&](const Value& x, int64_t dflt) {
      if (x.is_none()) return dflt;
      int64_t i = x.as_int();
      if (i < 0) i += n;
      if (step > 0) return std::clamp<int64_t>(i, 0, n);
      return std::clamp<int64_t>(i, -1, n - 1);
    };
    int64_t lo = norm(lo_v, step > 0 ? 0 : n - 1), hi = norm(hi_v, step > 0 ? n : -1);
    List l;
    std::string s;
    for (int64_t i = lo; step > 0 ? i < hi : i > hi; i += step) {
      if (v.is_list()) l.push_back(v.list()[static_cast<size_t>(i)]);
      else s += v.str_ref()[static_cast<size_t>(i)];
    }
    return v.is_list() ? Value(std::move(l)) : Value(s);
  }

  Value binary(const Expr& e) {
    const std::string& op = e.name;
    if (op == "and") {
      Value l = eval(*e.a);
      return l.truthy() ? eval(*e.b) : l;
    }
    if (op == "or") {
      Value l = eval(*e.a);
      return l.truthy() ? l : eval(*e.b);
    }
    if (op == "chain") {
      Value l = eval(*e.items[0]);
      for (size_t i = 0; i < e.kwargs.size(); ++i) {
        Value r = eval(*e.items[i + 1]);
        if (!compare_op(e.kwargs[i].first, l, r, e.line).truthy()) return Value(false);
        l = std::move(r);
      }
      return Value(true);
    }
    return compare_op(op, eval(*e.a), eval(*e.b), e.line);
  }

  // Python bools compare as 0/1 against numbers (True < 3).
  static bool numeric(const Value& v) { return v.is_number() || v.is_bool(); }

  // Every binary operator except the short-circuiting and/or, on evaluated operands.
  Value compare_op(const std::string& op, const Value& l, const Value& r, int line) {
    if (op == "==") return Value(l == r);
    if (op == "!=") return Value(l != r);
    if (op == "~") return Value(l.to_string() + r.to_string());
    if (op == "in" || op == "not in") {
      bool found = false;
      if (r.is_string()) found = r.str_ref().find(l.to_string()) != std::string::npos;
      else if (r.is_list())
        for (const auto& x : r.list()) found = found || x == l;
      else if (r.is_dict()) found = r.dict().find(l.to_string()) != nullptr;
      else if (!r.is_undefined() && !r.is_none()) err(line, std::string("'in' needs a container, got ") + r.type_name());
      else err(line, "'in' on an undefined or none value");
      return Value(op == "in" ? found : !found);
    }
    if (op == "+") {
      if (l.is_string() && r.is_string()) return Value(l.str_ref() + r.str_ref());
      if (l.is_list() && r.is_list()) {
        List x = l.list();
        x.insert(x.end(), r.list().begin(), r.list().end());
        return Value(std::move(x));
      }
    }
    if (op == "<" || op == ">" || op == "<=" || op == ">=") {
      int c;
      if (numeric(l) && numeric(r)) c = l.as_float() < r.as_float() ? -1 : l.as_float() > r.as_float() ? 1 : 0;
      else if (l.is_string() && r.is_string()) c = l.str_ref().compare(r.str_ref());
      else err(line, std::string("cannot compare ") + l.type_name() + " and " + r.type_name());
      return Value(op == "<" ? c < 0 : op == ">" ? c > 0 : op == "<=" ? c <= 0 : c >= 0);
    }
    if (op == "*" && ((l.is_string() && r.is_int()) || (l.is_int() && r.is_string()))) {
      const Value& s = l.is_string() ? l : r;
      int64_t n = l.is_int() ? l.as_int() : r.as_int();
      std::string out;
      for (int64_t i = 0; i < n; ++i) out += s.str_ref();
      return Value(out);
    }
    if (!l.is_number() || !r.is_number())
      err(line, std::string("unsupported operand types for ") + op + ": " + l.type_name() + " and " + r.type_name());
    bool ints = l.is_int() && r.is_int();
    if (op == "+") return ints ? Value(l.as_int() + r.as_int()) : Value(l.as_float() + r.as_float());
    if (op == "-") return ints ? Value(l.as_int() - r.as_int()) : Value(l.as_float() - r.as_float());
    if (op == "*") return ints ? Value(l.as_int() * r.as_int()) : Value(l.as_float() * r.as_float());
    if (op == "/") {
      if (r.as_float() == 0) err(line, "division by zero");
      return Value(l.as_float() / r.as_float());
    }
    if (op == "//" || op == "%") {
      if (r.as_float() == 0) err(line, "division by zero");
      if (ints) {
        int64_t a = l.as_int(), b = r.as_int();
        int64_t q = a / b;
        if ((a % b != 0) && ((a < 0) != (b < 0))) --q;  // Python floors
        return op == "//" ? Value(q) : Value(a - q * b);
      }
      double q = std::floor(l.as_float() / r.as_float());
      return op == "//" ? Value(q) : Value(l.as_float() - q * r.as_float());
    }
    if (op == "**") return ints && r.as_int() >= 0 ? Value(static_cast<int64_t>(std::llround(std::pow(l.as_float(), r.as_float()))))
                                                   : Value(std::pow(l.as_float(), r.as_float()));
    err(line, "unknown operator " + op);
  }

  // --- statements ------------------------------------------------------------------------------
  void exec_body(const Body& body, std::string& out, LoopControl& lc) {
    for (const auto& st : body) {
      exec(*st, out, lc);
      if (lc.kind != LoopControl::None) return;
    }
  }

  void exec(const Stmt& s, std::string& out, LoopControl& lc) {
    switch (s.kind) {
      case Stmt::Kind::Text: out += s.text; return;
      case Stmt::Kind::Print: {
        Value v = eval(*s.expr);
        out += v.to_string();
        return;
      }
      case Stmt::Kind::If:
        for (const auto& [cond, body] : s.branches)
          if (!cond || eval(*cond).truthy()) {
            exec_body(body, out, lc);
            return;
          }
        return;
      case Stmt::Kind::For: exec_for(s, out, lc); return;
      case Stmt::Kind::Set: {
        Value v = eval(*s.expr);
        if (s.targets.size() == 2) {
          Value ns = lookup(s.targets[0]);
          if (!ns.is_dict() || !ns.dict().is_namespace)
            err(s.line, "cannot set attribute '" + s.targets[1] + "' on '" + s.targets[0] + "' (not a namespace)");
          ns.dict().set(s.targets[1], v);
        } else {
          assign(s.targets[0], v);
        }
        return;
      }
      case Stmt::Kind::SetBlock: {
        std::string captured;
        LoopControl inner;
        exec_body(s.body, captured, inner);
        assign(s.targets[0], Value(captured));
        return;
      }
      case Stmt::Kind::Macro: define_macro(s); return;
      case Stmt::Kind::FilterBlock: {
        std::string captured;
        LoopControl inner;
        exec_body(s.body, captured, inner);
        Args args = eval_args(*s.expr);
        args.positional.insert(args.positional.begin(), Value(captured));
        out += apply_filter(s.expr->name, args, s.line).to_string();
        return;
      }
      case Stmt::Kind::Generation: {
        // Spans are recorded against the top-level output only (generation inside set blocks is meaningless).
        size_t begin = out.size();
        exec_body(s.body, out, lc);
        if (&out == &out_.text) out_.generation_spans.emplace_back(begin, out.size());
        return;
      }
      case Stmt::Kind::Break: lc.kind = LoopControl::Break; return;
      case Stmt::Kind::Continue: lc.kind = LoopControl::Continue; return;
      case Stmt::Kind::CallBlock: return;
    }
  }

  void exec_for(const Stmt& s, std::string& out, LoopControl& outer) {
    Value seq = eval(*s.expr);
    List items;
    if (seq.is_list()) items = seq.list();
    else if (seq.is_dict())
      for (const auto& kv : seq.dict().items) items.push_back(Value(kv.first));
    else if (seq.is_string())
      for (char c : seq.str_ref()) items.push_back(Value(std::string(1, c)));
    else if (seq.is_undefined() || seq.is_none()) items = {};
    else err(s.line, std::string("cannot iterate over ") + seq.type_name());
    auto bind = [&](const std::shared_ptr<Dict>& scope, const Value& item) {
      if (s.targets.size() == 1) {
        scope->set(s.targets[0], item);
        return;
      }
      if (!item.is_list() || item.list().size() != s.targets.size())
        err(s.line, "cannot unpack loop item into " + std::to_string(s.targets.size()) + " names");
      for (size_t k = 0; k < s.targets.size(); ++k) scope->set(s.targets[k], item.list()[k]);
    };
    if (s.cond) {  // `for x in xs if cond`: filter first, so loop.* counts only kept items
      List kept;
      for (const auto& it : items) {
        auto probe = std::make_shared<Dict>();
        bind(probe, it);
        scopes_.push_back(probe);
        bool keep = eval(*s.cond).truthy();
        scopes_.pop_back();
        if (keep) kept.push_back(it);
      }
      items = std::move(kept);
    }
    if (items.empty()) {
      exec_body(s.else_body, out, outer);
      return;
    }
    const int64_t n = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < n; ++i) {
      auto scope = std::make_shared<Dict>();
      bind(scope, items[static_cast<size_t>(i)]);
      auto loop = std::make_shared<Dict>();
      loop->set("index", Value(i + 1));
      loop->set("index0", Value(i));
      loop->set("revindex", Value(n - i));
      loop->set("revindex0", Value(n - i - 1));
      loop->set("first", Value(i == 0));
      loop->set("last", Value(i == n - 1));
      loop->set("length", Value(n));
      loop->set("previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value());
      loop->set("nextitem", i + 1 < n ? items[static_cast<size_t>(i + 1)] : Value());
      scope->set("loop", Value(loop));
      scopes_.push_back(scope);
      LoopControl lc;
      exec_body(s.body, out, lc);
      scopes_.pop_back();
      if (lc.kind == LoopControl::Break) break;
    }
  }

  void define_macro(const Stmt& s) {
    const Stmt* def = &s;
    Interpreter* self = this;
    assign(s.name, Value(Function([self, def](Args& args) -> Value {
      auto scope = std::make_shared<Dict>();
      for (size_t i = 0; i < def->params.size(); ++i) {
        const auto& [name, dflt] = def->params[i];
        Value v = args.get(i, name);
        if (v.is_undefined() && dflt) v = self->eval(*dflt);
        scope->set(name, v);
      }
      // Macros see template-level names, not the caller's loop variables.
      std::vector<std::shared_ptr<Dict>> saved;
      saved.swap(self->scopes_);
      self->scopes_.push_back(saved.front());
      self->scopes_.push_back(scope);
      std::string out;
      LoopControl lc;
      self->exec_body(def->body, out, lc);
      self->scopes_.swap(saved);
      return Value(out);
    })));
  }

  Value apply_filter(const std::string& name, Args& args, int line) {
    try {
      return call_filter(name, args);
    } catch (const Error& e) {
      err(line, e.message());
    }
  }
  bool apply_test(const std::string& name, Args& args, int line) {
    try {
      return call_test(name, args);
    } catch (const Error& e) {
      err(line, e.message());
    }
  }
  Value call_method(const Value& self, const std::string& name, Args& args, int line) {
    try {
      return jinja::call_method(self, name, args);
    } catch (const Error& e) {
      err(line, e.message());
    }
  }

  const Template& tpl_;
  std::shared_ptr<Dict> globals_;
  std::vector<std::shared_ptr<Dict>> scopes_;
  RenderResult out_;
};

}  // namespace

CompiledTemplate::CompiledTemplate(const std::string& source, const std::string& name) : tpl_(parse(source, name)) {}

const std::string& CompiledTemplate::name() const { return tpl_->source_name; }

RenderResult CompiledTemplate::render(const std::shared_ptr<Dict>& context) const {
  Interpreter in(*tpl_, context);
  return in.run();
}

}  // namespace pt::jinja
