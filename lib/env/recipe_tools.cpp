// The recipe's tools (environment.tools): a built-in tool by name, or a tool run by an external
// process. A command is started once (sh -c) and serves every call of the tools that name it, one
// JSON object per line each way:
//   -> {"type": "call", "tool": NAME, "arguments": {...}, "episode": ID}
//   <- {"content": ...} (a string, or any JSON, shown to the model as its text) or {"error": "..."}
//   -> {"type": "close", "episode": ID}   (no reply; sent once per episode that called it: a stateful
//                                          tool — a sandbox, a session — frees the episode's state)
// Whatever goes wrong with a call (an {"error"} reply, a crash, a hang past timeout_s, a line that is
// not such an object) is that call's error message to the model, counted as a failed call, never a
// stopped run; the process is restarted for the next call. The first failure of each process is
// also logged, since a tool that never starts would otherwise only show as a failed-call rate.
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.h"
#include "core/line_process.h"
#include "env/tools.h"

namespace pt::env {

namespace {

class ToolProcess {
 public:
  explicit ToolProcess(const std::string& command) : proc_(command, fmt::format("tool command '{}'", command)) {}

  std::string call(const std::string& tool, const nlohmann::json& args, uint64_t episode, double timeout_s) {
    std::lock_guard<std::mutex> lock(mu_);
    called_.insert(episode);
    const nlohmann::json req{{"type", "call"}, {"tool", tool}, {"arguments", args}, {"episode", episode}};
    std::string line;
    try {
      line = proc_.exchange(req.dump() + "\n", 1, timeout_s, fmt::format("the call of tool '{}', episode {}", tool, episode))[0];
    } catch (const Error& e) {
      warn_once(e.what());
      throw std::runtime_error(fmt::format("tool '{}' failed: {}", tool, e.what()));
    }
    nlohmann::json reply = nlohmann::json::parse(line, nullptr, false);
    if (reply.is_object() && reply.contains("error"))
      throw std::runtime_error(reply["error"].is_string() ? reply["error"].get<std::string>() : reply["error"].dump());
    if (!reply.is_object() || !reply.contains("content")) {
      proc_.stop();  // out of step with its requests: a fresh process for the next call
      const std::string why = fmt::format("{}: reply line '{}' to tool '{}' (episode {}) is not {{\"content\": ...}} or "
                                          "{{\"error\": ...}}", proc_.who(), line.substr(0, 200), tool, episode);
      warn_once(why);
      throw std::runtime_error(why);
    }
    return reply["content"].is_string() ? reply["content"].get<std::string>() : reply["content"].dump();
  }

  void close(uint64_t episode) {
    std::lock_guard<std::mutex> lock(mu_);
    if (called_.erase(episode) && proc_.running())
      proc_.send(nlohmann::json{{"type", "close"}, {"episode", episode}}.dump() + "\n");
  }

 private:
  void warn_once(const std::string& what) {
    if (warned_) return;
    warned_ = true;
    spdlog::warn("{} (the model sees this as the call's error; later failures of this process are only counted in "
                 "episode/tool_calls_failed)", what);
  }
  std::mutex mu_;
  LineProcess proc_;
  std::set<uint64_t> called_;
  bool warned_ = false;
};

Tool command_tool(const algo::ToolOptions& o, std::shared_ptr<ToolProcess> proc) {
  Tool t;
  t.name = o.name;
  t.description = o.description;
  t.parameters = o.parameters.value.is_null()
                     ? nlohmann::ordered_json{{"type", "object"}, {"properties", nlohmann::ordered_json::object()}}
                     : o.parameters.value;
  const std::string name = o.name;
  const double timeout_s = o.timeout_s;
  t.run = [proc, name, timeout_s](const nlohmann::json& args, uint64_t episode) {
    return proc->call(name, args, episode, timeout_s);
  };
  t.close = [proc](uint64_t episode) { proc->close(episode); };
  return t;
}

}  // namespace

Tool builtin_tool(const std::string& name) {
  if (name == "calculator") return calculator_tool();
  fail("no built-in tool '{}' (built-in tools: {})", name, fmt::join(algo::builtin_tools(), ", "));
}

std::vector<Tool> recipe_tools(const std::vector<algo::ToolOptions>& tools) {
  std::map<std::string, std::shared_ptr<ToolProcess>> processes;  // one per distinct command
  std::vector<Tool> out;
  for (const auto& o : tools) {
    if (o.command.empty()) {
      out.push_back(builtin_tool(o.name));
      continue;
    }
    auto& proc = processes[o.command];
    if (!proc) proc = std::make_shared<ToolProcess>(o.command);
    out.push_back(command_tool(o, proc));
  }
  return out;
}

}  // namespace pt::env
