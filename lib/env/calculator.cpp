// Tool use: the episode opens with the record's prompt (an arithmetic word problem) and a calculator
// tool; each turn either calls tools (answered as `tool` messages) or is the final answer, rewarded 1
// when its number equals the record's answer (else 0) — the episode is then done.
#include <cmath>
#include <map>
#include <mutex>

#include "core/error.h"
#include "env/arithmetic.h"
#include "env/tools.h"
#include "rl/rewards.h"

namespace pt::env {

Tool calculator_tool() {
  Tool t;
  t.name = "calculator";
  t.description = "Evaluates an arithmetic expression with + - * / ^ and parentheses, and returns the result.";
  t.parameters = nlohmann::ordered_json::parse(
      R"({"type": "object", "properties": {"expression": {"type": "string", "description": "the expression, e.g. (12 + 3) * 4"}}, "required": ["expression"]})");
  t.run = [](const nlohmann::json& args, uint64_t) { return format_number(evaluate_arithmetic(args["expression"].get<std::string>())); };
  return t;
}

namespace {

double as_number(const nlohmann::json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) return rl::last_number(v.get<std::string>());
  return std::nan("");
}

class Calculator : public Environment {
 public:
  explicit Calculator(const algo::EnvironmentOptions& o) : o_(o), tools_({calculator_tool()}, o.tool_format) {}

  Opening reset(uint64_t episode, const nlohmann::json& record, uint64_t) override {
    const auto it = record.find(o_.answer_field);
    PT_CHECK(it != record.end(), "environment calculator: the record has no '{}' field (the reference answer; "
             "environment.answer_field names it)", o_.answer_field);
    const double answer = as_number(*it);
    PT_CHECK(!std::isnan(answer), "environment calculator: the record's '{}' is not a number: {}", o_.answer_field, it->dump());
    std::lock_guard<std::mutex> lock(mu_);
    answers_[episode] = answer;
    Opening op;
    op.tools = tools_.schemas();
    return op;
  }

  Observation step(uint64_t episode, const AssistantTurn& turn) override {
    Observation o = tool_turn(tools_, episode, turn);
    if (!o.done) return o;
    double answer;
    {
      std::lock_guard<std::mutex> lock(mu_);
      answer = answers_.at(episode);
    }
    const double got = rl::last_number(rl::extract_answer(turn.text));
    o.reward = !std::isnan(got) && std::abs(got - answer) <= 1e-6 * std::max(1.0, std::abs(answer)) ? 1.0 : 0.0;
    return o;
  }

  Messages tools() const override { return tools_.schemas(); }

  void close(uint64_t episode) override {
    std::lock_guard<std::mutex> lock(mu_);
    answers_.erase(episode);
  }

 private:
  algo::EnvironmentOptions o_;
  ToolBox tools_;
  std::mutex mu_;
  std::map<uint64_t, double> answers_;
};

}  // namespace

std::unique_ptr<Environment> make_calculator(const algo::EnvironmentOptions& o) { return std::make_unique<Calculator>(o); }

}  // namespace pt::env
