// Tool calls in the three formats, malformed calls as errors (never throws), the tool box's error
// observations, and the calculator's evaluator.
#include <catch2/catch.hpp>

#include "env/arithmetic.h"
#include "env/tool_calls.h"
#include "env/tools.h"

using namespace pt;
using algo::ToolFormat;

TEST_CASE("tool calls are read in hermes, llama3 and mistral format", "[env][tools]") {
  auto h = env::parse_tool_calls("Let me compute.\n<tool_call>\n{\"name\": \"calculator\", \"arguments\": "
                                 "{\"expression\": \"2+3\"}}\n</tool_call>\n<tool_call>{\"name\": \"calculator\", "
                                 "\"arguments\": \"{\\\"expression\\\": \\\"4*5\\\"}\"}</tool_call>",
                                 ToolFormat::Auto);
  REQUIRE(h.size() == 2);
  CHECK(h[0].error.empty());
  CHECK(h[0].name == "calculator");
  CHECK(h[0].arguments["expression"] == "2+3");
  CHECK(h[1].arguments["expression"] == "4*5");  // arguments given as a JSON string

  auto l = env::parse_tool_calls("<|python_tag|>{\"name\": \"calculator\", \"parameters\": {\"expression\": \"1; 2\"}}; "
                                 "{\"name\": \"clock\", \"parameters\": {}}",
                                 ToolFormat::Auto);
  REQUIRE(l.size() == 2);
  CHECK(l[0].arguments["expression"] == "1; 2");  // a ';' inside a string does not split calls
  CHECK(l[1].name == "clock");
  CHECK(env::parse_tool_calls("{\"name\": \"calculator\", \"parameters\": {\"expression\": \"9\"}}", ToolFormat::Llama3).size() == 1);

  auto m = env::parse_tool_calls("[TOOL_CALLS] [{\"name\": \"calculator\", \"arguments\": {\"expression\": \"7-1\"}}]",
                                 ToolFormat::Auto);
  REQUIRE(m.size() == 1);
  CHECK(m[0].arguments["expression"] == "7-1");

  // Plain answers are no calls; a format that is not the turn's finds none.
  CHECK(env::parse_tool_calls("The answer is 42.", ToolFormat::Auto).empty());
  CHECK(env::parse_tool_calls("{not a call} but text", ToolFormat::Auto).empty());
  CHECK(env::parse_tool_calls("<tool_call>{\"name\": \"x\"}</tool_call>", ToolFormat::Mistral).empty());
}

TEST_CASE("malformed tool calls are kept as errors, not thrown", "[env][tools]") {
  auto unclosed = env::parse_tool_calls("<tool_call>{\"name\": \"calculator\"", ToolFormat::Hermes);
  REQUIRE(unclosed.size() == 1);
  CHECK(unclosed[0].error.find("not closed") != std::string::npos);
  auto bad_json = env::parse_tool_calls("<tool_call>{name: calculator}</tool_call>", ToolFormat::Hermes);
  REQUIRE(bad_json.size() == 1);
  CHECK(bad_json[0].error.find("not valid JSON") != std::string::npos);
  auto no_name = env::parse_tool_calls("[TOOL_CALLS] [{\"arguments\": {}}]", ToolFormat::Mistral);
  REQUIRE(no_name.size() == 1);
  CHECK(no_name[0].error.find("\"name\"") != std::string::npos);
  auto bad_args = env::parse_tool_calls("<tool_call>{\"name\": \"c\", \"arguments\": [1]}</tool_call>", ToolFormat::Hermes);
  CHECK(bad_args[0].error.find("must be an object") != std::string::npos);
}

TEST_CASE("the tool box answers every call with a tool message, errors included", "[env][tools]") {
  env::Tool calc;
  calc.name = "calculator";
  calc.description = "arithmetic";
  calc.parameters = nlohmann::ordered_json::parse(
      R"({"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]})");
  calc.run = [](const nlohmann::json& a, uint64_t) { return env::format_number(env::evaluate_arithmetic(a["expression"].get<std::string>())); };
  env::ToolBox box({calc}, ToolFormat::Auto);
  auto schemas = box.schemas();
  REQUIRE(schemas.size() == 1);
  CHECK(schemas[0]["type"] == "function");
  CHECK(schemas[0]["function"]["name"] == "calculator");

  auto a = box.answer("<tool_call>{\"name\": \"calculator\", \"arguments\": {\"expression\": \"(2+3)*4\"}}</tool_call>"
                      "<tool_call>{\"name\": \"weather\", \"arguments\": {}}</tool_call>"
                      "<tool_call>{\"name\": \"calculator\", \"arguments\": {}}</tool_call>"
                      "<tool_call>{\"name\": \"calculator\", \"arguments\": {\"expression\": 5}}</tool_call>"
                      "<tool_call>{\"name\": \"calculator\", \"arguments\": {\"expression\": \"1/0\"}}</tool_call>"
                      "<tool_call>broken</tool_call>", 0);
  REQUIRE(a.messages.size() == 6);
  CHECK(a.ok == 1);
  CHECK(a.failed == 5);
  CHECK(a.messages[0]["role"] == "tool");
  CHECK(a.messages[0]["content"] == "20");
  CHECK(a.messages[1]["content"].get<std::string>().find("unknown tool 'weather' (tools: calculator)") != std::string::npos);
  CHECK(a.messages[2]["content"].get<std::string>().find("missing required argument 'expression'") != std::string::npos);
  CHECK(a.messages[3]["content"].get<std::string>().find("must be a string") != std::string::npos);
  CHECK(a.messages[4]["content"].get<std::string>().find("division by zero") != std::string::npos);
  CHECK(a.messages[5]["content"].get<std::string>().rfind("error: ", 0) == 0);
  CHECK(!box.answer("no calls here", 0).called());
}

TEST_CASE("the calculator evaluates arithmetic and reports errors with positions", "[env][tools]") {
  CHECK(env::evaluate_arithmetic("2 + 3 * 4") == 14);
  CHECK(env::evaluate_arithmetic("(2 + 3) * 4") == 20);
  CHECK(env::evaluate_arithmetic("2 ^ 3 ^ 2") == 512);  // right-associative
  CHECK(env::evaluate_arithmetic("-3 - -4") == 1);
  CHECK(env::evaluate_arithmetic("1,250 / 5") == 250);
  CHECK(env::evaluate_arithmetic("7 / 2") == 3.5);
  CHECK(env::format_number(14.0) == "14");
  CHECK(env::format_number(3.5) == "3.5");
  CHECK(env::format_number(1.0 / 3) == "0.3333333333");
  CHECK_THROWS_WITH(env::evaluate_arithmetic("2 +"), Catch::Contains("unexpected end"));
  CHECK_THROWS_WITH(env::evaluate_arithmetic("(1 + 2"), Catch::Contains("missing ')'"));
  CHECK_THROWS_WITH(env::evaluate_arithmetic("2 $ 3"), Catch::Contains("unexpected '$' at position 2"));
  CHECK_THROWS_WITH(env::evaluate_arithmetic("4 / (2 - 2)"), Catch::Contains("division by zero"));
}
