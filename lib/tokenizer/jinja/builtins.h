#pragma once
// Globals (namespace, raise_exception, strftime_now, range, dict), filters, tests and the Python
// string/dict methods that chat templates call.
#include <string>

#include "tokenizer/jinja/value.h"

namespace pt::jinja {

Value builtin_global(const std::string& name);  // Undefined when unknown
Value call_filter(const std::string& name, Args& args);
bool call_test(const std::string& name, Args& args);
Value call_method(const Value& self, const std::string& name, Args& args);

}  // namespace pt::jinja
