// An external environment: one long-lived process (sh -c COMMAND) serves every episode of the run,
// one JSON object per line each way, each message carrying its episode id:
//   -> {"type": "reset", "episode": ID, "seed": S, "record": {...}}
//   <- {"episode": ID, "messages": [...], "tools": [...]}      (messages may be empty: the record's prompt)
//   -> {"type": "step", "episode": ID, "turn": K, "text": "...", "text_raw": "..."}
//   <- {"episode": ID, "messages": [...], "reward": R, "done": B, "tool_calls_ok": N, "tool_calls_failed": M}
//      or {"episode": ID, "error": "..."} (the environment's own failure for this episode)
//   -> {"type": "close", "episode": ID}                        (no reply)
// A crash, a hang past timeout_s or a malformed reply throws, naming the environment, the episode and
// the offending line (the episode stage stops the run or, under on_error: skip, drops the episode);
// the process is restarted for the next call, and episodes it held before are dropped when they
// come back (their state died with it).
#include <cmath>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include "core/error.h"
#include "core/line_process.h"
#include "env/environment.h"

namespace pt::env {

namespace {

class CommandEnvironment : public Environment {
 public:
  explicit CommandEnvironment(const algo::EnvironmentOptions& o)
      : o_(o), proc_(o.command, fmt::format("environment command '{}'", o.command)) {
    PT_CHECK(!o_.command.empty(), "algorithm.grpo.environment: environment 'command' needs a command");
  }

  Opening reset(uint64_t episode, const nlohmann::json& record, uint64_t seed) override {
    std::lock_guard<std::mutex> lock(mu_);
    const nlohmann::json req{{"type", "reset"}, {"episode", episode}, {"seed", seed}, {"record", record}};
    const auto reply = call(req, episode);
    started_in_[episode] = proc_.starts();
    Opening op;
    op.messages = messages_of(reply, "messages", episode, true);
    if (reply.contains("tools") && !reply["tools"].is_null()) {
      if (!reply["tools"].is_array()) bad(episode, reply, "\"tools\" must be a list of tool schemas");
      op.tools = Messages::parse(reply["tools"].dump());
    }
    return op;
  }

  Observation step(uint64_t episode, const AssistantTurn& turn) override {
    std::lock_guard<std::mutex> lock(mu_);
    const auto at = started_in_.find(episode);
    if (at == started_in_.end() || at->second != proc_.starts())
      fail("{}: episode {}: the process was restarted after this episode began; its state is gone", proc_.who(), episode);
    const nlohmann::json req{{"type", "step"}, {"episode", episode}, {"turn", turn.index},
                             {"text", turn.text}, {"text_raw", turn.text_raw}};
    const auto reply = call(req, episode);
    if (reply.contains("error")) fail("{}: episode {}: the environment reports: {}", proc_.who(), episode, reply["error"].dump());
    Observation o;
    o.done = reply.value("done", false);
    o.messages = messages_of(reply, "messages", episode, o.done);
    if (reply.contains("reward")) {
      if (!reply["reward"].is_number() || !std::isfinite(reply["reward"].get<double>()))
        bad(episode, reply, "\"reward\" must be a finite number");
      o.reward = reply["reward"].get<double>();
    }
    o.tool_calls_ok = reply.value("tool_calls_ok", 0);
    o.tool_calls_failed = reply.value("tool_calls_failed", 0);
    return o;
  }

  void close(uint64_t episode) override {
    std::lock_guard<std::mutex> lock(mu_);
    started_in_.erase(episode);
    proc_.send(nlohmann::json{{"type", "close"}, {"episode", episode}}.dump() + "\n");
  }

 private:
  [[noreturn]] void bad(uint64_t episode, const nlohmann::json& reply, const std::string& what) const {
    fail("{}: episode {}: reply {}: {}", proc_.who(), episode, reply.dump().substr(0, 200), what);
  }

  nlohmann::json call(const nlohmann::json& req, uint64_t episode) {
    const std::string unit = fmt::format("the {} of episode {}, reply", req["type"].get<std::string>(), episode);
    const auto lines = proc_.exchange(req.dump() + "\n", 1, o_.timeout_s, unit);
    nlohmann::json reply;
    try {
      reply = nlohmann::json::parse(lines[0]);
    } catch (const nlohmann::json::exception&) {
      proc_.stop();
      fail("{}: episode {}: reply line '{}' is not JSON (expected {{\"episode\": {}, ...}})", proc_.who(), episode,
           lines[0].substr(0, 200), episode);
    }
    if (!reply.is_object() || !reply.contains("episode") || reply["episode"] != episode) {
      proc_.stop();
      fail("{}: episode {}: reply line '{}' is not an object for episode {}", proc_.who(), episode,
           lines[0].substr(0, 200), episode);
    }
    return reply;
  }

  Messages messages_of(const nlohmann::json& reply, const char* key, uint64_t episode, bool may_be_empty) const {
    if (!reply.contains(key) || reply[key].is_null()) {
      if (may_be_empty) return Messages::array();
      bad(episode, reply, fmt::format("\"{}\" is missing (a list of {{role, content}} messages)", key));
    }
    const auto& m = reply[key];
    if (!m.is_array()) bad(episode, reply, fmt::format("\"{}\" must be a list of {{role, content}} messages", key));
    for (const auto& x : m)
      if (!x.is_object() || !x.contains("role") || !x["role"].is_string() || !x.contains("content"))
        bad(episode, reply, fmt::format("every message of \"{}\" needs a role and a content", key));
    return Messages::parse(m.dump());
  }

  algo::EnvironmentOptions o_;
  LineProcess proc_;
  std::mutex mu_;
  std::map<uint64_t, int> started_in_;  // episode -> the process start that holds its state
};

}  // namespace

std::unique_ptr<Environment> make_command(const algo::EnvironmentOptions& o) {
  return std::make_unique<CommandEnvironment>(o);
}

}  // namespace pt::env
