// Options of an RL environment (algorithm.grpo.environment, an eval task's environment): each option
// only where the chosen environment reads it, and the recipe's tools well formed.
#include "recipe/environment_checks.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

namespace pt::recipe {

namespace {

// environment.tools: names unique; a built-in takes its own schema; a command tool's schema is an object.
void check_tools(const std::vector<algo::ToolOptions>& tools, const EnvRefuse& refuse) {
  const auto& builtins = algo::builtin_tools();
  if (tools.empty())
    refuse({"name"}, "environment 'tools' needs environment.tools: the tools to offer");
  const algo::ToolOptions d;
  std::set<std::string> names;
  for (size_t i = 0; i < tools.size(); ++i) {
    const auto& t = tools[i];
    auto at = [&](const char* key, const std::string& why) {
      refuse({"tools", std::to_string(i), key}, why);
    };
    if (!names.insert(t.name).second) at("name", fmt::format("tool '{}' is declared twice", t.name));
    const bool builtin = std::find(builtins.begin(), builtins.end(), t.name) != builtins.end();
    if (t.command.empty() && !builtin)
      at("command", fmt::format("tool '{}' has no command and is not a built-in tool ({}): give the process that "
                                "runs it", t.name, fmt::join(builtins, ", ")));
    if (t.command.empty()) {
      if (!t.description.empty()) at("description", "a built-in tool has its own description");
      if (!t.parameters.value.is_null()) at("parameters", "a built-in tool has its own parameters");
      if (t.timeout_s != d.timeout_s) at("timeout_s", "timeout_s is read by command tools; a built-in runs in the process");
      continue;
    }
    const auto& p = t.parameters.value;
    if (!p.is_null() && (!p.is_object() || p.value("type", nlohmann::ordered_json()) != "object"))
      at("parameters", fmt::format("tool '{}': parameters must be a JSON Schema of an object ({{type: object, "
                                   "properties: {{...}}}}), got {}", t.name, p.dump()));
    if (!p.is_null() && p.contains("properties") && !p["properties"].is_object())
      at("parameters", fmt::format("tool '{}': parameters.properties must be a mapping of argument names to schemas", t.name));
    if (!p.is_null() && p.contains("required") && !p["required"].is_array())
      at("parameters", fmt::format("tool '{}': parameters.required must be a list of argument names", t.name));
  }
}

}  // namespace

void check_environment(const algo::EnvironmentOptions& e, const EnvRefuse& refuse) {
  const algo::EnvironmentOptions d;
  const std::string& n = e.name;
  const bool multi = n != "single_turn";
  auto only = [&](bool used, bool set, const char* key, const char* users) {
    if (!used && set)
      refuse({key}, fmt::format("{} is only read by environment {} (this one is '{}')", key, users, n));
  };
  const char* all_multi = "calculator, guess_number, tools or command";
  only(multi, e.max_turns != d.max_turns, "max_turns", all_multi);
  only(multi, e.max_episode_tokens != d.max_episode_tokens, "max_episode_tokens", all_multi);
  only(multi, e.on_error != d.on_error, "on_error", all_multi);
  only(multi, e.on_template_rewrite != d.on_template_rewrite, "on_template_rewrite", all_multi);
  only(n == "command", !e.command.empty(), "command", "command");
  only(n == "command", e.timeout_s != d.timeout_s, "timeout_s", "command");
  if (n == "command" && e.command.empty())
    refuse({"name"}, "environment 'command' needs command: the process to start");
  only(n == "calculator" || n == "tools", e.tool_format != d.tool_format, "tool_format", "calculator or tools");
  only(n == "tools", !e.tools.empty(), "tools", "tools");
  if (n == "tools") check_tools(e.tools, refuse);
  only(n == "calculator", e.answer_field != d.answer_field, "answer_field", "calculator");
  only(n == "guess_number", e.low != d.low, "low", "guess_number");
  only(n == "guess_number", e.high != d.high, "high", "guess_number");
  if (n == "guess_number" && e.low > e.high)
    refuse({"high"}, fmt::format("high ({}) is below low ({})", e.high, e.low));
}

}  // namespace pt::recipe
