#include "env/tools.h"

#include <stdexcept>

#include <fmt/format.h>

#include "env/tool_calls.h"

namespace pt::env {

namespace {

bool has_type(const nlohmann::json& v, const std::string& type) {
  if (type == "string") return v.is_string();
  if (type == "number") return v.is_number();
  if (type == "integer") return v.is_number_integer() || (v.is_number_float() && v.get<double>() == static_cast<double>(static_cast<long long>(v.get<double>())));
  if (type == "boolean") return v.is_boolean();
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "null") return v.is_null();
  return true;  // a type this check does not know is the tool's to judge
}

}  // namespace

std::string check_arguments(const nlohmann::ordered_json& schema, const nlohmann::json& args) {
  if (!schema.is_object()) return "";
  if (schema.contains("required"))
    for (const auto& r : schema["required"])
      if (r.is_string() && !args.contains(r.get<std::string>()))
        return fmt::format("missing required argument '{}'", r.get<std::string>());
  if (!schema.contains("properties")) return "";
  const auto& props = schema["properties"];
  for (const auto& [key, value] : args.items()) {
    if (!props.contains(key)) return fmt::format("unknown argument '{}'", key);
    const auto& p = props[key];
    if (p.contains("type") && p["type"].is_string() && !has_type(value, p["type"].get<std::string>()))
      return fmt::format("argument '{}' must be a {}, got {}", key, p["type"].get<std::string>(), value.type_name());
  }
  return "";
}

ToolBox::ToolBox(std::vector<Tool> tools, algo::ToolFormat format) : tools_(std::move(tools)), format_(format) {}

Messages ToolBox::schemas() const {
  Messages out = Messages::array();
  for (const auto& t : tools_) {
    Messages fn = Messages::object();
    fn["name"] = t.name;
    fn["description"] = t.description;
    fn["parameters"] = t.parameters;
    out.push_back(Messages{{"type", "function"}, {"function", fn}});
  }
  return out;
}

std::string ToolBox::run(const ToolCall& call, uint64_t episode) const {
  if (!call.error.empty()) throw std::invalid_argument(call.error);
  for (const auto& t : tools_) {
    if (t.name != call.name) continue;
    if (auto bad = check_arguments(t.parameters, call.arguments); !bad.empty())
      throw std::invalid_argument(fmt::format("tool '{}': {}", t.name, bad));
    return t.run(call.arguments, episode);
  }
  std::string known;
  for (const auto& t : tools_) known += (known.empty() ? "" : ", ") + t.name;
  throw std::invalid_argument(fmt::format("unknown tool '{}' (tools: {})", call.name, known));
}

Observation tool_turn(const ToolBox& box, uint64_t episode, const AssistantTurn& turn) {
  Observation o;
  ToolBox::Answer a = box.answer(turn.text_raw, episode);
  o.tool_calls_ok = a.ok;
  o.tool_calls_failed = a.failed;
  o.done = !a.called();
  o.messages = std::move(a.messages);
  return o;
}

void ToolBox::close(uint64_t episode) const {
  for (const auto& t : tools_)
    if (t.close) t.close(episode);
}

ToolBox::Answer ToolBox::answer(const std::string& raw, uint64_t episode) const {
  Answer a;
  for (const auto& call : parse_tool_calls(raw, format_)) {
    Messages m = Messages::object();
    m["role"] = "tool";
    if (!call.name.empty()) m["name"] = call.name;
    try {
      m["content"] = run(call, episode);
      ++a.ok;
    } catch (const std::exception& e) {
      m["content"] = fmt::format("error: {}", e.what());
      ++a.failed;
    }
    a.messages.push_back(std::move(m));
  }
  return a;
}

}  // namespace pt::env
