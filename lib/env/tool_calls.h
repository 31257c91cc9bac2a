#pragma once
// Tool calls read from an assistant turn, in the conventions of the chat templates we ship:
//   hermes  (Qwen 2.5/3, Hermes): <tool_call>{"name": ..., "arguments": {...}}</tool_call>, one block per call
//   llama3  (Llama 3.1/3.2):      a JSON object {"name": ..., "parameters": {...}}, after <|python_tag|> or alone
//   mistral (Mistral v3+):        [TOOL_CALLS] [{"name": ..., "arguments": {...}}, ...]
// A call that is not well-formed is kept as an error (the model sees it as an observation), never thrown.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "algo/options.h"

namespace pt::env {

struct ToolCall {
  std::string name;
  nlohmann::json arguments = nlohmann::json::object();
  std::string error;  // non-empty: malformed (what was wrong), name/arguments as far as read
};

// `raw`: the turn decoded with its special tokens (markers such as [TOOL_CALLS] or <|python_tag|>
// are special tokens in their vocabularies), without the end-of-turn token. auto = whichever format
// the turn shows. No call at all = an empty list (the turn is a final answer).
std::vector<ToolCall> parse_tool_calls(const std::string& raw, algo::ToolFormat format);

}  // namespace pt::env
