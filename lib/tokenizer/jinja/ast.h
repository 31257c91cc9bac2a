#pragma once
// Syntax tree of a parsed template.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/jinja/value.h"

namespace pt::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind { Literal, Name, List, Tuple, Dict, Attr, Item, Slice, Call, Filter, Test, Unary, Binary, Cond };
  Kind kind;
  int line = 0;
  Value literal;                 // Literal
  std::string name;              // Name, Attr, Filter, Test; Unary/Binary operator
  std::vector<ExprPtr> items;    // List/Tuple elements; Dict: key,value,key,value...; Call/Filter/Test positional args
  std::vector<std::pair<std::string, ExprPtr>> kwargs;  // Call/Filter/Test keyword args
  ExprPtr a, b, c;               // operands: Attr/Item/Slice/Call/Filter/Test target = a; Slice a[b:c:items[0]]
  bool negated = false;          // `is not`
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Stmt {
  enum class Kind { Text, Print, If, For, Set, SetBlock, Macro, FilterBlock, Break, Continue, Generation, CallBlock };
  Kind kind;
  int line = 0;
  std::string text;                      // Text
  ExprPtr expr;                          // Print; For iterable; Set value; FilterBlock filter (applied to body)
  std::vector<std::pair<ExprPtr, Body>> branches;  // If: (cond or null for else, body)
  std::vector<std::string> targets;      // For loop vars; Set/SetBlock target (1 name, or name.attr as 2)
  ExprPtr cond;                          // For `if` filter
  Body body, else_body;                  // For, SetBlock, Macro, FilterBlock, Generation
  std::string name;                      // Macro name
  std::vector<std::pair<std::string, ExprPtr>> params;  // Macro params with defaults
  bool recursive = false;
};

struct Template {
  Body body;
  std::string source_name;
};

std::shared_ptr<Template> parse(const std::string& source, const std::string& name);

}  // namespace pt::jinja
