// The external reward command: a process started once (sh -c COMMAND) that reads one JSON object
// per line on stdin ({"prompt", "completion", "record"}) and answers one line per object on stdout:
// a number, {"reward": number}, or null (unscorable). A crash, a hang past timeout_s or a malformed
// reply is an error naming the reward, the command and the offending line, or under on_error: skip
// leaves the batch unscored and restarts the process for the next one. Its stderr is ours.
#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/line_process.h"
#include "core/log.h"
#include "rl/rewards.h"

namespace pt::rl {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

class CommandReward : public RewardFunction {
 public:
  explicit CommandReward(const algo::RewardOptions& o)
      : o_(o), proc_(o.command, fmt::format("reward '{}' (command '{}')", o.label.empty() ? o.name : o.label, o.command)) {
    if (o_.command.empty()) fail("algorithm.grpo.rewards: reward 'command' needs a command");
  }

  int64_t skipped() const override { return skipped_; }

  std::vector<double> score(const std::vector<RewardSample>& batch) override {
    try {
      return exchange(batch);
    } catch (const Error& e) {
      proc_.stop();
      if (o_.on_error == algo::OnRewardError::Error)
        fail("{} (algorithm.grpo.rewards: set on_error: skip to leave such batches unscored)", e.what());
      ++skipped_;
      log::warn("{}; the batch of {} completions is left unscored (on_error: skip)", e.what(), batch.size());
      return std::vector<double>(batch.size(), kNaN);
    }
  }

 private:
  std::vector<double> exchange(const std::vector<RewardSample>& batch) {
    std::string req;
    for (const auto& s : batch)
      req += nlohmann::json{{"prompt", s.prompt}, {"completion", s.completion}, {"record", s.record}}.dump() + "\n";
    const auto lines = proc_.exchange(req, batch.size(), o_.timeout_s);
    std::vector<double> out;
    for (size_t i = 0; i < lines.size(); ++i) out.push_back(parse(lines[i], static_cast<int64_t>(i + 1)));
    return out;
  }

  double parse(const std::string& line, int64_t line_no) const {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      fail("{}: reply line {}: expected a number, {{\"reward\": number}} or null, got '{}'", proc_.who(), line_no,
           line.substr(0, 200));
    }
    if (j.is_object() && j.contains("reward")) j = j["reward"];
    if (j.is_null()) return kNaN;
    if (!j.is_number())
      fail("{}: reply line {}: expected a number, {{\"reward\": number}} or null, got '{}'", proc_.who(), line_no,
           line.substr(0, 200));
    const double v = j.get<double>();
    if (!std::isfinite(v)) fail("{}: reply line {}: the reward {} is not finite", proc_.who(), line_no, v);
    return v;
  }

  algo::RewardOptions o_;
  LineProcess proc_;
  int64_t skipped_ = 0;
};

}  // namespace

std::unique_ptr<RewardFunction> make_command(const algo::RewardOptions& o) {
  return std::make_unique<CommandReward>(o);
}

}  // namespace pt::rl
