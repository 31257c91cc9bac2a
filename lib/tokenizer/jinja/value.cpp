#include "tokenizer/jinja/value.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"

namespace pt::jinja {

nlohmann::json Value::to_json() const {
  switch (type_) {
    case Type::None:
    case Type::Undefined: return nullptr;
    case Type::Bool: return as_bool();
    case Type::Int: return i_;
    case Type::Float: return d_;
    case Type::String: return *s_;
    case Type::List: {
      auto a = nlohmann::json::array();
      for (const auto& e : *l_) a.push_back(e.to_json());
      return a;
    }
    case Type::Dict: {
      auto o = nlohmann::json::object();
      for (const auto& [k, v] : m_->items) o[k] = v.to_json();
      return o;
    }
    case Type::Function: return nullptr;
  }
  return nullptr;
}

bool Value::truthy() const {
  switch (type_) {
    case Type::Undefined:
    case Type::None: return false;
    case Type::Bool:
    case Type::Int: return i_ != 0;
    case Type::Float: return d_ != 0.0;
    case Type::String: return !s_->empty();
    case Type::List: return !l_->empty();
    case Type::Dict: return !m_->items.empty();
    case Type::Function: return true;
  }
  return false;
}

std::string python_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  // Shortest repr that round-trips, as Python prints floats.
  char buf[64];
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof(buf), "%.*g", prec, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  std::string s(buf);
  auto e = s.find('e');
  if (e != std::string::npos) {
    // Python: 1e-05, 1e+20 (two-digit exponents, sign kept).
    std::string mant = s.substr(0, e), ex = s.substr(e + 1);
    char sign = ex[0] == '-' ? '-' : '+';
    if (ex[0] == '-' || ex[0] == '+') ex = ex.substr(1);
    while (ex.size() > 2 && ex[0] == '0') ex = ex.substr(1);
    if (ex.size() < 2) ex = "0" + ex;
    int exp = std::stoi(ex) * (sign == '-' ? -1 : 1);
    if (exp >= -4 && exp < 16) {
      std::snprintf(buf, sizeof(buf), "%.17g", d);
      for (int prec = 1; prec <= 17; ++prec) {
        std::snprintf(buf, sizeof(buf), "%.*f", std::max(0, prec - 1 - exp), d);
        if (std::strtod(buf, nullptr) == d) break;
      }
      s = buf;
    } else {
      return mant + "e" + sign + ex;
    }
  }
  if (s.find_first_of(".einn") == std::string::npos) s += ".0";
  return s;
}

static std::string py_quote(const std::string& s) {
  // Python repr prefers single quotes unless the string contains one and no double quote.
  char q = (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) ? '"' : '\'';
  std::string out(1, q);
  for (unsigned char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == static_cast<unsigned char>(q)) out += std::string("\\") + q;
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7f) {
      char b[8];
      std::snprintf(b, sizeof(b), "\\x%02x", c);
      out += b;
    } else out += static_cast<char>(c);
  }
  return out + q;
}

std::string Value::repr() const {
  switch (type_) {
    case Type::String: return py_quote(*s_);
    case Type::List: {
      std::string s = "[";
      for (size_t i = 0; i < l_->size(); ++i) s += (i ? ", " : "") + (*l_)[i].repr();
      return s + "]";
    }
    case Type::Dict: {
      std::string s = "{";
      for (size_t i = 0; i < m_->items.size(); ++i)
        s += (i ? ", " : "") + py_quote(m_->items[i].first) + ": " + m_->items[i].second.repr();
      return s + "}";
    }
    default: return to_string();
  }
}

std::string Value::to_string() const {
  switch (type_) {
    case Type::Undefined: return "";
    case Type::None: return "None";
    case Type::Bool: return i_ ? "True" : "False";
    case Type::Int: return std::to_string(i_);
    case Type::Float: return python_float(d_);
    case Type::String: return *s_;
    case Type::List:
    case Type::Dict: return repr();
    case Type::Function: return "<function>";
  }
  return "";
}

const char* Value::type_name() const {
  switch (type_) {
    case Type::Undefined: return "undefined";
    case Type::None: return "none";
    case Type::Bool: return "bool";
    case Type::Int: return "int";
    case Type::Float: return "float";
    case Type::String: return "string";
    case Type::List: return "list";
    case Type::Dict: return "dict";
    case Type::Function: return "function";
  }
  return "?";
}

bool Value::operator==(const Value& o) const {
  if (is_number() && o.is_number()) return as_float() == o.as_float();
  if ((is_bool() && o.is_number()) || (is_number() && o.is_bool())) return as_float() == o.as_float();
  if (type_ != o.type_) return false;
  switch (type_) {
    case Type::Undefined:
    case Type::None: return true;
    case Type::Bool: return i_ == o.i_;
    case Type::String: return *s_ == *o.s_;
    case Type::List: return *l_ == *o.l_;
    case Type::Dict: {
      if (m_->items.size() != o.m_->items.size()) return false;
      for (const auto& [k, v] : m_->items) {
        const Value* w = o.m_->find(k);
        if (!w || !(*w == v)) return false;
      }
      return true;
    }
    default: return f_ == o.f_;
  }
}

static void dumps_into(const Value& v, int indent, bool sort_keys, int depth, std::string& out) {
  auto nl = [&](int d) {
    if (indent < 0) return;
    out += '\n';
    out.append(static_cast<size_t>(indent * d), ' ');
  };
  switch (v.type()) {
    case Value::Type::Undefined:
    case Value::Type::None:
    case Value::Type::Function: out += "null"; return;
    case Value::Type::Bool: out += v.as_bool() ? "true" : "false"; return;
    case Value::Type::Int: out += std::to_string(v.as_int()); return;
    case Value::Type::Float: {
      double d = v.as_float();
      out += std::isnan(d) ? "NaN" : std::isinf(d) ? (d > 0 ? "Infinity" : "-Infinity") : python_float(d);
      return;
    }
    case Value::Type::String: {
      out += nlohmann::json(v.str_ref()).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      return;
    }
    case Value::Type::List: {
      if (v.list().empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < v.list().size(); ++i) {
        if (i) out += indent < 0 ? ", " : ",";
        nl(depth + 1);
        dumps_into(v.list()[i], indent, sort_keys, depth + 1, out);
      }
      nl(depth);
      out += ']';
      return;
    }
    case Value::Type::Dict: {
      auto items = v.dict().items;
      if (items.empty()) {
        out += "{}";
        return;
      }
      if (sort_keys) std::sort(items.begin(), items.end(), [](auto& a, auto& b) { return a.first < b.first; });
      out += '{';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += indent < 0 ? ", " : ",";
        nl(depth + 1);
        out += nlohmann::json(items[i].first).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        out += ": ";
        dumps_into(items[i].second, indent, sort_keys, depth + 1, out);
      }
      nl(depth);
      out += '}';
      return;
    }
  }
}

std::string dumps(const Value& v, int indent, bool sort_keys) {
  std::string out;
  dumps_into(v, indent, sort_keys, 0, out);
  return out;
}

}  // namespace pt::jinja
