#include "tokenizer/jinja/builtins.h"

#include <algorithm>
#include <cmath>
#include <ctime>

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace pt::jinja {

namespace {

std::string need_string(const Value& v, const char* what) {
  if (v.is_string()) return v.str_ref();
  if (v.is_undefined()) fail("{}: value is undefined", what);
  return v.to_string();
}

bool is_py_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string py_strip(const std::string& s, const Value& chars, bool left, bool right) {
  auto in_set = [&](char c) { return chars.is_string() ? chars.str_ref().find(c) != std::string::npos : is_py_space(c); };
  size_t b = 0, e = s.size();
  if (left)
    while (b < e && in_set(s[b])) ++b;
  if (right)
    while (e > b && in_set(s[e - 1])) --e;
  return s.substr(b, e - b);
}

Value py_split(const std::string& s, const Value& sep, const Value& maxsplit_v) {
  int64_t maxsplit = maxsplit_v.is_int() ? maxsplit_v.as_int() : -1;
  List out;
  if (sep.is_string()) {
    const std::string& d = sep.str_ref();
    if (d.empty()) fail("split(): empty separator");
    size_t pos = 0;
    while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
      size_t f = s.find(d, pos);
      if (f == std::string::npos) break;
      out.push_back(Value(s.substr(pos, f - pos)));
      pos = f + d.size();
    }
    out.push_back(Value(s.substr(pos)));
    return Value(std::move(out));
  }
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_py_space(s[i])) ++i;
    if (i >= s.size()) break;
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
      std::string rest = s.substr(i);
      while (!rest.empty() && is_py_space(rest.back())) rest.pop_back();
      out.push_back(Value(rest));
      break;
    }
    size_t j = i;
    while (j < s.size() && !is_py_space(s[j])) ++j;
    out.push_back(Value(s.substr(i, j - i)));
    i = j;
  }
  return Value(std::move(out));
}

std::string replace_all(std::string s, const std::string& from, const std::string& to, int64_t count = -1) {
  if (from.empty()) return s;
  size_t pos = 0;
  for (int64_t n = 0; (count < 0 || n < count); ++n) {
    pos = s.find(from, pos);
    if (pos == std::string::npos) break;
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
  return s;
}

std::string title_case(const std::string& s, bool capitalize_only) {
  std::string out = s;
  bool start = true;
  for (size_t i = 0; i < out.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(out[i]);
    if (capitalize_only) {
      out[i] = static_cast<char>(i == 0 ? std::toupper(c) : std::tolower(c));
      continue;
    }
    if (std::isalpha(c)) {
      out[i] = static_cast<char>(start ? std::toupper(c) : std::tolower(c));
      start = false;
    } else {
      start = !std::isalnum(c) && c < 0x80;
    }
  }
  return out;
}

List as_list(const Value& v) {
  if (v.is_list()) return v.list();
  List l;
  if (v.is_dict())
    for (const auto& kv : v.dict().items) l.push_back(Value(kv.first));
  else if (v.is_string())
    for (size_t i = 0; i < v.str_ref().size();) {
      size_t n = std::min(pt::tok::utf8_len(static_cast<unsigned char>(v.str_ref()[i])), v.str_ref().size() - i);
      l.push_back(Value(v.str_ref().substr(i, n)));
      i += n;
    }
  return l;
}

Value attr_of(const Value& v, const std::string& path) {
  Value cur = v;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t dot = path.find('.', pos);
    std::string key = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    if (!cur.is_dict()) return Value();
    const Value* f = cur.dict().find(key);
    cur = f ? *f : Value();
    if (dot == std::string::npos) break;
    pos = dot + 1;
  }
  return cur;
}

int compare_values(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) return a.as_float() < b.as_float() ? -1 : a.as_float() > b.as_float() ? 1 : 0;
  std::string x = a.to_string(), y = b.to_string();
  return x < y ? -1 : x > y ? 1 : 0;
}

}  // namespace

Value builtin_global(const std::string& name) {
  if (name == "namespace")
    return Value(Function([](Args& a) {
      auto d = std::make_shared<Dict>();
      d->is_namespace = true;
      for (const auto& p : a.positional)
        if (p.is_dict())
          for (const auto& kv : p.dict().items) d->set(kv.first, kv.second);
      for (const auto& [k, v] : a.keyword) d->set(k, v);
      return Value(d);
    }));
  if (name == "raise_exception")
    return Value(Function([](Args& a) -> Value { fail("template raised: {}", a.get(0, "message").to_string()); }));
  if (name == "strftime_now")
    return Value(Function([](Args& a) {
      std::time_t t = std::time(nullptr);
      std::tm tm{};
      localtime_r(&t, &tm);
      char buf[256];
      std::strftime(buf, sizeof(buf), need_string(a.get(0, "format"), "strftime_now").c_str(), &tm);
      return Value(std::string(buf));
    }));
  if (name == "range")
    return Value(Function([](Args& a) {
      int64_t start = 0, stop, step = 1;
      if (a.positional.size() == 1) stop = a.positional[0].as_int();
      else {
        start = a.get(0, "start").as_int();
        stop = a.get(1, "stop").as_int();
        if (a.positional.size() > 2) step = a.positional[2].as_int();
      }
      if (step == 0) fail("range() step must not be zero");
      List l;
      for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) l.push_back(Value(i));
      return Value(std::move(l));
    }));
  if (name == "dict")
    return Value(Function([](Args& a) {
      auto d = std::make_shared<Dict>();
      for (const auto& [k, v] : a.keyword) d->set(k, v);
      return Value(d);
    }));
  return Value();
}

// One flat dispatch over the filter names, a few lines per filter: long on purpose — read and
// checked against Jinja's documentation as one table, and a filter is added as one more branch.
Value call_filter(const std::string& name, Args& a) {
  const Value& v = a.positional.at(0);
  if (name == "trim") return Value(py_strip(need_string(v, "trim"), a.get(1, "chars"), true, true));
  if (name == "tojson") {
    Value indent = a.get(1, "indent");
    return Value(dumps(v, indent.is_int() ? static_cast<int>(indent.as_int()) : -1, a.get(2, "sort_keys").truthy()));
  }
  if (name == "length" || name == "count") {
    if (v.is_string()) {
      int64_t n = 0;
      for (size_t i = 0; i < v.str_ref().size(); i += pt::tok::utf8_len(static_cast<unsigned char>(v.str_ref()[i]))) ++n;
      return Value(n);
    }
    if (v.is_list()) return Value(static_cast<int64_t>(v.list().size()));
    if (v.is_dict()) return Value(static_cast<int64_t>(v.dict().items.size()));
    fail("length: a {} has no length", v.type_name());
  }
  if (name == "upper" || name == "lower") {
    std::string s = need_string(v, name.c_str());
    for (auto& c : s) c = static_cast<char>(name == "upper" ? std::toupper(static_cast<unsigned char>(c)) : std::tolower(static_cast<unsigned char>(c)));
    return Value(s);
  }
  if (name == "title") return Value(title_case(need_string(v, "title"), false));
  if (name == "capitalize") return Value(title_case(need_string(v, "capitalize"), true));
  if (name == "replace")
    return Value(replace_all(need_string(v, "replace"), need_string(a.get(1, "old"), "replace"),
                             need_string(a.get(2, "new"), "replace"), a.get(3, "count").is_int() ? a.get(3, "count").as_int() : -1));
  if (name == "join") {
    std::string sep = a.get(1, "d").is_string() ? a.get(1, "d").str_ref() : "";
    Value attr = a.get(2, "attribute");
    std::string out;
    List l = as_list(v);
    for (size_t i = 0; i < l.size(); ++i) out += (i ? sep : "") + (attr.is_string() ? attr_of(l[i], attr.str_ref()) : l[i]).to_string();
    return Value(out);
  }
  if (name == "first" || name == "last") {
    List l = as_list(v);
    if (l.empty()) return Value();
    return name == "first" ? l.front() : l.back();
  }
  if (name == "default" || name == "d") {
    bool boolean = a.get(2, "boolean").truthy();
    if (v.is_undefined() || (boolean && !v.truthy())) return a.get(1, "default_value", Value(""));
    return v;
  }
  if (name == "string") return Value(v.to_string());
  if (name == "int") {
    if (v.is_number()) return Value(v.as_int());
    try {
      return Value(static_cast<int64_t>(std::stoll(v.to_string())));
    } catch (...) {
      return a.get(1, "default", Value(0));
    }
  }
  if (name == "float") {
    if (v.is_number()) return Value(v.as_float());
    try {
      return Value(std::stod(v.to_string()));
    } catch (...) {
      return a.get(1, "default", Value(0.0));
    }
  }
  if (name == "list") return Value(as_list(v));
  if (name == "items") {
    List l;
    if (v.is_dict())
      for (const auto& [k, x] : v.dict().items) l.push_back(Value(List{Value(k), x}));
    return Value(std::move(l));
  }
  if (name == "safe") return v;
  if (name == "abs") return v.is_int() ? Value(static_cast<int64_t>(std::llabs(v.as_int()))) : Value(std::fabs(v.as_float()));
  if (name == "round") {
    int64_t prec = a.get(1, "precision").is_int() ? a.get(1, "precision").as_int() : 0;
    double m = std::pow(10.0, static_cast<double>(prec));
    return Value(std::round(v.as_float() * m) / m);
  }
  if (name == "unique") {
    List out;
    for (const auto& x : as_list(v))
      if (std::find(out.begin(), out.end(), x) == out.end()) out.push_back(x);
    return Value(std::move(out));
  }
  if (name == "reverse") {
    if (v.is_string()) return Value(std::string(v.str_ref().rbegin(), v.str_ref().rend()));
    List l = as_list(v);
    std::reverse(l.begin(), l.end());
    return Value(std::move(l));
  }
  if (name == "sort") {
    List l = as_list(v);
    Value attr = a.get(3, "attribute");
    bool rev = a.get(1, "reverse").truthy();
    std::stable_sort(l.begin(), l.end(), [&](const Value& x, const Value& y) {
      Value xx = attr.is_string() ? attr_of(x, attr.str_ref()) : x, yy = attr.is_string() ? attr_of(y, attr.str_ref()) : y;
      return rev ? compare_values(xx, yy) > 0 : compare_values(xx, yy) < 0;
    });
    return Value(std::move(l));
  }
  if (name == "dictsort") {
    List l;
    if (v.is_dict())
      for (const auto& [k, x] : v.dict().items) l.push_back(Value(List{Value(k), x}));
    std::stable_sort(l.begin(), l.end(), [](const Value& x, const Value& y) { return compare_values(x.list()[0], y.list()[0]) < 0; });
    return Value(std::move(l));
  }
  if (name == "sum" || name == "min" || name == "max") {
    List l = as_list(v);
    if (name == "sum") {
      Value acc = a.get(2, "start", Value(0));
      for (const auto& x : l) acc = acc.is_int() && x.is_int() ? Value(acc.as_int() + x.as_int()) : Value(acc.as_float() + x.as_float());
      return acc;
    }
    if (l.empty()) return Value();
    Value best = l[0];
    for (const auto& x : l)
      if (name == "min" ? compare_values(x, best) < 0 : compare_values(x, best) > 0) best = x;
    return best;
  }
  if (name == "wordcount") return py_split(need_string(v, "wordcount"), Value(), Value()).list().size() == 0
                                     ? Value(0)
                                     : Value(static_cast<int64_t>(py_split(v.to_string(), Value(), Value()).list().size()));
  if (name == "indent") {
    int64_t width = a.get(1, "width").is_int() ? a.get(1, "width").as_int() : 4;
    bool first = a.get(2, "first").truthy(), blank = a.get(3, "blank").truthy();
    std::string pad(static_cast<size_t>(width), ' '), s = need_string(v, "indent"), out;
    size_t pos = 0;
    bool is_first = true;
    while (true) {
      size_t nl = s.find('\n', pos);
      std::string line = s.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      if ((!is_first || first) && (blank || !line.empty())) out += pad;
      out += line;
      if (nl == std::string::npos) break;
      out += '\n';
      pos = nl + 1;
      is_first = false;
    }
    return Value(out);
  }
  if (name == "batch") {
    int64_t n = a.get(1, "linecount").as_int();
    if (n <= 0) fail("batch: size must be positive");
    List out, cur;
    for (const auto& x : as_list(v)) {
      cur.push_back(x);
      if (static_cast<int64_t>(cur.size()) == n) out.push_back(Value(cur)), cur.clear();
    }
    if (!cur.empty()) out.push_back(Value(cur));
    return Value(std::move(out));
  }
  if (name == "map") {
    List out;
    Value attr = a.get(1, "attribute");
    for (const auto& x : as_list(v)) {
      if (attr.is_string() && !a.keyword.empty()) out.push_back(attr_of(x, attr.str_ref()));
      else if (attr.is_string() && a.positional.size() == 1) out.push_back(attr_of(x, attr.str_ref()));
      else {
        Args fa;
        fa.positional.push_back(x);
        for (size_t k = 2; k < a.positional.size(); ++k) fa.positional.push_back(a.positional[k]);
        out.push_back(call_filter(need_string(a.positional.at(1), "map"), fa));
      }
    }
    return Value(std::move(out));
  }
  if (name == "selectattr" || name == "rejectattr" || name == "select" || name == "reject") {
    bool by_attr = name == "selectattr" || name == "rejectattr";
    bool keep_true = name == "selectattr" || name == "select";
    List out;
    size_t t = by_attr ? 2 : 1;
    for (const auto& x : as_list(v)) {
      Value subject = by_attr ? attr_of(x, need_string(a.positional.at(1), name.c_str())) : x;
      bool r;
      if (a.positional.size() > t) {
        Args ta;
        ta.positional.push_back(subject);
        for (size_t k = t + 1; k < a.positional.size(); ++k) ta.positional.push_back(a.positional[k]);
        r = call_test(need_string(a.positional[t], name.c_str()), ta);
      } else {
        r = subject.truthy();
      }
      if (r == keep_true) out.push_back(x);
    }
    return Value(std::move(out));
  }
  fail("unknown filter '{}'", name);
}

bool call_test(const std::string& name, Args& a) {
  const Value& v = a.positional.at(0);
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "number") return v.is_number();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "mapping") return v.is_dict();
  if (name == "sequence") return v.is_list() || v.is_string() || v.is_dict();
  if (name == "iterable") return v.is_list() || v.is_string() || v.is_dict();
  if (name == "callable") return v.is_function();
  if (name == "odd") return v.as_int() % 2 != 0;
  if (name == "even") return v.as_int() % 2 == 0;
  if (name == "divisibleby") return a.get(1, "num").as_int() != 0 && v.as_int() % a.get(1, "num").as_int() == 0;
  if (name == "equalto" || name == "eq" || name == "sameas") return v == a.get(1, "other");
  if (name == "ne") return v != a.get(1, "other");
  if (name == "in") {
    Value c = a.get(1, "seq");
    if (c.is_string()) return c.str_ref().find(v.to_string()) != std::string::npos;
    if (c.is_list()) return std::find(c.list().begin(), c.list().end(), v) != c.list().end();
    if (c.is_dict()) return c.dict().find(v.to_string()) != nullptr;
    return false;
  }
  if (name == "lower" || name == "upper") {
    std::string s = v.to_string();
    return std::all_of(s.begin(), s.end(), [&](char c) {
      return !std::isalpha(static_cast<unsigned char>(c)) || (name == "lower" ? std::islower(static_cast<unsigned char>(c)) : std::isupper(static_cast<unsigned char>(c)));
    });
  }
  fail("unknown test '{}'", name);
}

// As call_filter: one dispatch table over the Python methods templates call on strings, lists, dicts.
Value call_method(const Value& self, const std::string& name, Args& a) {
  if (self.is_string()) {
    const std::string& s = self.str_ref();
    if (name == "strip") return Value(py_strip(s, a.get(0, "chars"), true, true));
    if (name == "lstrip") return Value(py_strip(s, a.get(0, "chars"), true, false));
    if (name == "rstrip") return Value(py_strip(s, a.get(0, "chars"), false, true));
    if (name == "split") return py_split(s, a.get(0, "sep"), a.get(1, "maxsplit"));
    if (name == "startswith" || name == "endswith") {
      Value p = a.get(0, "prefix");
      List opts = p.is_list() ? p.list() : List{p};
      for (const auto& o : opts) {
        const std::string x = need_string(o, name.c_str());
        if (name == "startswith" ? s.compare(0, x.size(), x) == 0
                                 : s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0)
          return Value(true);
      }
      return Value(false);
    }
    if (name == "upper" || name == "lower") {
      Args fa;
      fa.positional.push_back(self);
      return call_filter(name, fa);
    }
    if (name == "title") return Value(title_case(s, false));
    if (name == "capitalize") return Value(title_case(s, true));
    if (name == "replace")
      return Value(replace_all(s, need_string(a.get(0, "old"), "replace"), need_string(a.get(1, "new"), "replace"),
                               a.get(2, "count").is_int() ? a.get(2, "count").as_int() : -1));
    if (name == "find") {
      auto p = s.find(need_string(a.get(0, "sub"), "find"));
      return Value(p == std::string::npos ? int64_t{-1} : static_cast<int64_t>(p));
    }
    if (name == "count") {
      std::string sub = need_string(a.get(0, "sub"), "count");
      int64_t n = 0;
      if (!sub.empty())
        for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
      return Value(n);
    }
    if (name == "join") {
      std::string out;
      List l = as_list(a.get(0, "iterable"));
      for (size_t i = 0; i < l.size(); ++i) out += (i ? s : "") + l[i].to_string();
      return Value(out);
    }
    if (name == "isdigit") return Value(!s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }));
    if (name == "format") {
      std::string out;
      size_t arg = 0;
      for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '{' && i + 1 < s.size() && s[i + 1] == '}') {
          out += a.get(arg++, "").to_string();
          ++i;
        } else {
          out += s[i];
        }
      }
      return Value(out);
    }
  }
  if (self.is_dict()) {
    if (name == "items") {
      Args fa;
      fa.positional.push_back(self);
      return call_filter("items", fa);
    }
    if (name == "keys") {
      List l;
      for (const auto& kv : self.dict().items) l.push_back(Value(kv.first));
      return Value(std::move(l));
    }
    if (name == "values") {
      List l;
      for (const auto& kv : self.dict().items) l.push_back(kv.second);
      return Value(std::move(l));
    }
    if (name == "get") {
      const Value* f = self.dict().find(need_string(a.get(0, "key"), "get"));
      return f ? *f : a.get(1, "default", Value::none());
    }
  }
  if (self.is_list() && name == "index") {
    Value x = a.get(0, "value");
    for (size_t i = 0; i < self.list().size(); ++i)
      if (self.list()[i] == x) return Value(static_cast<int64_t>(i));
    fail("index(): value not in list");
  }
  if (self.is_undefined()) fail("cannot call '{}' on an undefined value", name);
  fail("'{}' has no method '{}'", self.type_name(), name);
}

}  // namespace pt::jinja
