#pragma once
// The calculator tool's evaluator: + - * / ^ (right-associative), unary minus, parentheses and
// decimal numbers. Errors (syntax, division by zero, overflow) throw std::invalid_argument with the
// position, so the tool can answer them to the model.
#include <string>

namespace pt::env {

double evaluate_arithmetic(const std::string& expression);
// A result as the tool prints it: integers without a decimal point, others to 10 significant digits.
std::string format_number(double v);

}  // namespace pt::env
