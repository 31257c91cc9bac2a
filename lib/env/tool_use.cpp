// The recipe's tools as an environment (name: tools): every episode opens with the record's prompt
// and is offered environment.tools; a turn that calls tools is answered with one `tool` message per
// call, and the first turn without a call is the final answer — the episode is then done, scored by
// the recipe's rewards (this environment adds no reward of its own). The agent loop of TRL's and
// verl's tool-calling GRPO, with tools that are built-ins or external processes.
#include "core/error.h"
#include "env/tools.h"

namespace pt::env {

namespace {

class ToolUse : public Environment {
 public:
  explicit ToolUse(const algo::EnvironmentOptions& o) : tools_(recipe_tools(o.tools), o.tool_format) {
    PT_CHECK(!o.tools.empty(), "environment tools: environment.tools declares no tool");
  }

  Opening reset(uint64_t, const nlohmann::json&, uint64_t) override {
    Opening op;
    op.tools = tools_.schemas();
    return op;
  }

  Observation step(uint64_t episode, const AssistantTurn& turn) override { return tool_turn(tools_, episode, turn); }

  Messages tools() const override { return tools_.schemas(); }
  void close(uint64_t episode) override { tools_.close(episode); }

 private:
  ToolBox tools_;
};

}  // namespace

std::unique_ptr<Environment> make_tool_use(const algo::EnvironmentOptions& o) { return std::make_unique<ToolUse>(o); }

}  // namespace pt::env
