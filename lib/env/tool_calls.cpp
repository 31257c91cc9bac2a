#include "env/tool_calls.h"

#include <fmt/format.h>

namespace pt::env {

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// {"name": ..., "arguments"|"parameters": {...} or a JSON string of one} -> a call (or its error).
ToolCall from_object(const nlohmann::json& j) {
  ToolCall c;
  if (!j.is_object()) {
    c.error = fmt::format("a tool call must be a JSON object, got {}", j.type_name());
    return c;
  }
  if (!j.contains("name") || !j["name"].is_string()) {
    c.error = "a tool call needs a string \"name\"";
    return c;
  }
  c.name = j["name"].get<std::string>();
  const char* key = j.contains("arguments") ? "arguments" : j.contains("parameters") ? "parameters" : nullptr;
  if (!key) return c;
  nlohmann::json args = j[key];
  if (args.is_string()) {  // some models write the arguments as a JSON string
    try {
      args = nlohmann::json::parse(args.get<std::string>());
    } catch (const std::exception&) {
      c.error = fmt::format("the \"{}\" of tool call '{}' are not JSON", key, c.name);
      return c;
    }
  }
  if (!args.is_object()) {
    c.error = fmt::format("the \"{}\" of tool call '{}' must be an object, got {}", key, c.name, args.type_name());
    return c;
  }
  c.arguments = std::move(args);
  return c;
}

ToolCall parse_one(const std::string& text) {
  try {
    return from_object(nlohmann::json::parse(text));
  } catch (const nlohmann::json::parse_error& e) {
    ToolCall c;
    c.error = fmt::format("the tool call is not valid JSON ({}): {}", e.what(), text.substr(0, 200));
    return c;
  }
}

std::vector<ToolCall> hermes(const std::string& raw) {
  std::vector<ToolCall> out;
  const std::string open = "<tool_call>", close = "</tool_call>";
  for (size_t at = raw.find(open); at != std::string::npos; at = raw.find(open, at)) {
    const size_t body = at + open.size();
    const size_t end = raw.find(close, body);
    if (end == std::string::npos) {
      ToolCall c;
      c.error = "a <tool_call> block is not closed by </tool_call>";
      out.push_back(c);
      break;
    }
    out.push_back(parse_one(trim(raw.substr(body, end - body))));
    at = end + close.size();
  }
  return out;
}

std::vector<ToolCall> mistral(const std::string& raw) {
  const std::string marker = "[TOOL_CALLS]";
  const size_t at = raw.find(marker);
  if (at == std::string::npos) return {};
  const std::string body = trim(raw.substr(at + marker.size()));
  std::vector<ToolCall> out;
  try {
    const auto j = nlohmann::json::parse(body);
    if (j.is_array()) {
      for (const auto& e : j) out.push_back(from_object(e));
    } else {
      out.push_back(from_object(j));
    }
  } catch (const nlohmann::json::parse_error& e) {
    ToolCall c;
    c.error = fmt::format("the [TOOL_CALLS] list is not valid JSON ({})", e.what());
    out.push_back(c);
  }
  return out;
}

std::vector<ToolCall> llama3(const std::string& raw) {
  const std::string tag = "<|python_tag|>";
  const size_t at = raw.find(tag);
  const std::string body = trim(at == std::string::npos ? raw : raw.substr(at + tag.size()));
  // Alone, a turn is a call only when it is one JSON object; after the tag it must be one.
  if (at == std::string::npos && !(body.size() >= 2 && body.front() == '{' && body.back() == '}')) return {};
  std::vector<ToolCall> out;
  // Several calls may be separated by ';' (Llama 3.1's convention for parallel calls).
  size_t start = 0, depth = 0;
  bool in_string = false, escaped = false;
  for (size_t i = 0; i <= body.size(); ++i) {
    const char ch = i < body.size() ? body[i] : ';';
    if (in_string) {
      if (escaped) escaped = false;
      else if (ch == '\\') escaped = true;
      else if (ch == '"') in_string = false;
      continue;
    }
    if (ch == '"') in_string = true;
    if (ch == '{' || ch == '[') ++depth;
    if ((ch == '}' || ch == ']') && depth > 0) --depth;
    if (ch == ';' && depth == 0) {
      const std::string one = trim(body.substr(start, i - start));
      if (!one.empty()) out.push_back(parse_one(one));
      start = i + 1;
    }
  }
  return out;
}

}  // namespace

std::vector<ToolCall> parse_tool_calls(const std::string& raw, algo::ToolFormat format) {
  using algo::ToolFormat;
  switch (format) {
    case ToolFormat::Hermes: return hermes(raw);
    case ToolFormat::Mistral: return mistral(raw);
    case ToolFormat::Llama3: return llama3(raw);
    case ToolFormat::Auto: break;
  }
  if (raw.find("<tool_call>") != std::string::npos) return hermes(raw);
  if (raw.find("[TOOL_CALLS]") != std::string::npos) return mistral(raw);
  return llama3(raw);
}

}  // namespace pt::env
