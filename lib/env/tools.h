#pragma once
// Tools an environment offers the policy: declared as the ecosystem's JSON schemas (rendered through
// the chat template's `tools` argument, as transformers does) and run on the calls read from a turn.
// Every failure — a malformed call, an unknown tool, arguments that do not match the schema, a tool
// that throws — becomes a `tool` message the model sees, and a failed-call count.
#include <functional>
#include <string>
#include <vector>

#include "env/environment.h"
#include "env/tool_calls.h"

namespace pt::env {

struct Tool {
  std::string name;
  std::string description;
  nlohmann::ordered_json parameters;  // JSON Schema of the arguments object
  // Runs one call of `episode` (checked against `parameters`); throws std::exception on failure.
  std::function<std::string(const nlohmann::json& args, uint64_t episode)> run;
  std::function<void(uint64_t episode)> close;  // optional: the episode is over (a stateful tool frees it)
};

// Built-in tools by name (algo::builtin_tools() lists them for the recipe's checks).
Tool calculator_tool();
Tool builtin_tool(const std::string& name);
// The recipe's tools (environment.tools): built-ins by name, the others run by their command.
std::vector<Tool> recipe_tools(const std::vector<algo::ToolOptions>& tools);

class ToolBox {
 public:
  ToolBox(std::vector<Tool> tools, algo::ToolFormat format);
  // [{"type": "function", "function": {name, description, parameters}}, ...]
  Messages schemas() const;
  struct Answer {
    Messages messages = Messages::array();  // one `tool` message per call, in call order
    int ok = 0, failed = 0;
    bool called() const { return ok + failed > 0; }
  };
  // The calls in a turn of `episode` (raw: decoded with special tokens), run in order.
  Answer answer(const std::string& raw, uint64_t episode) const;
  void close(uint64_t episode) const;

 private:
  std::string run(const ToolCall& call, uint64_t episode) const;  // throws with the observation's text
  std::vector<Tool> tools_;
  algo::ToolFormat format_;
};

// A turn of a tool-using episode: its calls answered as `tool` messages and counted; a turn with no
// call is the final answer (done, no reward: the caller scores it).
Observation tool_turn(const ToolBox& box, uint64_t episode, const AssistantTurn& turn);

// Arguments against a tool's schema (required properties, JSON types of the declared ones): "" = fine.
std::string check_arguments(const nlohmann::ordered_json& schema, const nlohmann::json& args);

}  // namespace pt::env
