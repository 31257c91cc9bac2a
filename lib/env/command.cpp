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
    auto out = step_batch({episode}, {turn});
    if (!out[0].error.empty()) fail("{}", out[0].error);
    return out[0].obs;
  }

  // Every request written before the replies are read (one exchange; replies in any order, matched by
  // episode id). A crash, hang or malformed line fails the whole batch; an {"error"} reply its episode.
  std::vector<StepOutcome> step_batch(const std::vector<uint64_t>& episodes, const std::vector<AssistantTurn>& turns) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<StepOutcome> out(episodes.size());
    std::string lines;
    for (size_t i = 0; i < episodes.size(); ++i) {
      const auto at = started_in_.find(episodes[i]);
      if (at == started_in_.end() || at->second != proc_.starts()) {
        out[i].error = fmt::format("{}: episode {}: the process was restarted after this episode began; its state is gone",
                                   proc_.who(), episodes[i]);
        continue;
      }
      lines += nlohmann::json{{"type", "step"}, {"episode", episodes[i]}, {"turn", turns[i].index},
                              {"text", turns[i].text}, {"text_raw", turns[i].text_raw}}.dump() + "\n";
    }
    std::map<uint64_t, size_t> waiting;
    uint64_t first = 0;  // errors of the whole batch name its first episode
    for (size_t i = 0; i < episodes.size(); ++i)
      if (out[i].error.empty() && waiting.emplace(episodes[i], i).second && waiting.size() == 1) first = episodes[i];
    if (waiting.empty()) return out;
    const auto replies = proc_.exchange(lines, waiting.size(), o_.timeout_s, fmt::format("the step of episode {}, reply", first));
    for (const auto& line : replies) {
      const nlohmann::json reply = parse(line, waiting, first);
      const uint64_t episode = reply["episode"].get<uint64_t>();
      const size_t i = waiting.at(episode);
      waiting.erase(episode);
      try {
        out[i].obs = observation(reply, episode);
      } catch (const Error& e) {
        out[i].error = e.what();
      }
    }
    return out;
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
    return parse(lines[0], {{episode, 0}}, episode);
  }

  // A reply line for one of the `waiting` episodes; anything else stops the process and fails,
  // naming `first` (the batch's first episode).
  nlohmann::json parse(const std::string& line, const std::map<uint64_t, size_t>& waiting, uint64_t first) {
    nlohmann::json reply;
    try {
      reply = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      proc_.stop();
      fail("{}: episode {}: reply line '{}' is not JSON (expected {{\"episode\": {}, ...}})", proc_.who(), first,
           line.substr(0, 200), first);
    }
    if (!reply.is_object() || !reply.contains("episode") || !reply["episode"].is_number_unsigned() ||
        !waiting.count(reply["episode"].get<uint64_t>())) {
      proc_.stop();
      fail("{}: episode {}: reply line '{}' is not an object for {}", proc_.who(), first, line.substr(0, 200),
           waiting.size() == 1 ? fmt::format("episode {}", first) : "an episode awaiting its reply");
    }
    return reply;
  }

  Observation observation(const nlohmann::json& reply, uint64_t episode) const {
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
