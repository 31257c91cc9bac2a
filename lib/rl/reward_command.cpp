// The external reward command: a process started once (sh -c COMMAND) that reads one JSON object
// per line on stdin ({"prompt", "completion", "record"}) and answers one line per object on stdout:
// a number, {"reward": number}, or null (unscorable). A crash, a hang past timeout_s or a malformed
// reply is an error naming the reward, the command and the offending line, or under on_error: skip
// leaves the batch unscored and restarts the process for the next one. Its stderr is ours.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "core/log.h"
#include "rl/rewards.h"

namespace pt::rl {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

class CommandReward : public RewardFunction {
 public:
  explicit CommandReward(const algo::RewardOptions& o) : o_(o) {
    if (o_.command.empty()) fail("algorithm.grpo.rewards: reward 'command' needs a command");
    label_ = o_.label.empty() ? o_.name : o_.label;
  }
  ~CommandReward() override { stop(); }

  int64_t skipped() const override { return skipped_; }

  std::vector<double> score(const std::vector<RewardSample>& batch) override {
    try {
      return exchange(batch);
    } catch (const Error& e) {
      stop();
      if (o_.on_error == algo::OnRewardError::Error)
        fail("{} (algorithm.grpo.rewards: set on_error: skip to leave such batches unscored)", e.what());
      ++skipped_;
      log::warn("{}; the batch of {} completions is left unscored (on_error: skip)", e.what(), batch.size());
      return std::vector<double>(batch.size(), kNaN);
    }
  }

 private:
  std::string who() const { return fmt::format("reward '{}' (command '{}')", label_, o_.command); }

  void start() {
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) fail("{}: cannot create pipes: {}", who(), std::strerror(errno));
    pid_ = fork();
    if (pid_ < 0) fail("{}: cannot fork: {}", who(), std::strerror(errno));
    if (pid_ == 0) {
      setpgid(0, 0);  // its own process group: stop() ends the shell and whatever it started
      dup2(in[0], STDIN_FILENO);
      dup2(out[1], STDOUT_FILENO);
      close(in[0]), close(in[1]), close(out[0]), close(out[1]);
      execl("/bin/sh", "sh", "-c", o_.command.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    setpgid(pid_, pid_);
    close(in[0]);
    close(out[1]);
    to_ = in[1];
    from_ = out[0];
    fcntl(from_, F_SETFL, fcntl(from_, F_GETFL) | O_NONBLOCK);
    buf_.clear();
  }

  void stop() {
    if (to_ >= 0) close(to_);
    if (from_ >= 0) close(from_);
    to_ = from_ = -1;
    if (pid_ > 0) {
      kill(-pid_, SIGKILL);
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

  // After EOF on its output: how the process ended (it may take a moment to be reaped).
  std::string exit_status() {
    int st = 0;
    for (int i = 0; i < 200 && pid_ > 0; ++i) {
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        kill(-pid_, SIGKILL);  // anything it left running
        pid_ = -1;
        if (WIFEXITED(st)) return fmt::format("exited with status {}", WEXITSTATUS(st));
        if (WIFSIGNALED(st)) return fmt::format("was killed by signal {}", WTERMSIG(st));
      }
      usleep(5000);
    }
    return "closed its output";
  }

  std::vector<double> exchange(const std::vector<RewardSample>& batch) {
    if (pid_ <= 0) start();
    // Requests go out whole before replies are read; a large batch is written in pieces between
    // reads so neither side blocks on a full pipe.
    std::string req;
    for (const auto& s : batch)
      req += nlohmann::json{{"prompt", s.prompt}, {"completion", s.completion}, {"record", s.record}}.dump() + "\n";
    size_t sent = 0;
    std::vector<double> out;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(o_.timeout_s);
    int64_t line_no = 0;
    while (out.size() < batch.size()) {
      // Complete reply lines first.
      for (size_t nl; out.size() < batch.size() && (nl = buf_.find('\n')) != std::string::npos;) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        ++line_no;
        out.push_back(parse(line, line_no));
      }
      if (out.size() == batch.size()) break;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        fail("{}: no reply within timeout_s = {} for sample {} of {}", who(), o_.timeout_s, out.size() + 1, batch.size());
      pollfd fds[2] = {{from_, POLLIN, 0}, {to_, static_cast<short>(sent < req.size() ? POLLOUT : 0), 0}};
      int n = poll(fds, sent < req.size() ? 2 : 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
      if (n < 0 && errno != EINTR) fail("{}: poll failed: {}", who(), std::strerror(errno));
      if (sent < req.size() && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
        ssize_t w = ::write(to_, req.data() + sent, req.size() - sent);
        if (w < 0 && errno != EAGAIN && errno != EINTR)
          fail("{}: the process {} before reading sample {} of {}", who(), exit_status(), out.size() + 1, batch.size());
        if (w > 0) sent += static_cast<size_t>(w);
      }
      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        char chunk[65536];
        ssize_t r = ::read(from_, chunk, sizeof(chunk));
        if (r == 0)
          fail("{}: the process {} after {} of {} replies", who(), exit_status(), out.size(), batch.size());
        if (r > 0) buf_.append(chunk, static_cast<size_t>(r));
      }
    }
    return out;
  }

  double parse(const std::string& line, int64_t line_no) const {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      fail("{}: reply line {}: expected a number, {{\"reward\": number}} or null, got '{}'", who(), line_no,
           line.substr(0, 200));
    }
    if (j.is_object() && j.contains("reward")) j = j["reward"];
    if (j.is_null()) return kNaN;
    if (!j.is_number())
      fail("{}: reply line {}: expected a number, {{\"reward\": number}} or null, got '{}'", who(), line_no,
           line.substr(0, 200));
    const double v = j.get<double>();
    if (!std::isfinite(v)) fail("{}: reply line {}: the reward {} is not finite", who(), line_no, v);
    return v;
  }

  algo::RewardOptions o_;
  std::string label_;
  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
  std::string buf_;
  int64_t skipped_ = 0;
};

}  // namespace

std::unique_ptr<RewardFunction> make_command(const algo::RewardOptions& o) {
  // A reward process that dies must not kill us through SIGPIPE on the next write.
  signal(SIGPIPE, SIG_IGN);
  return std::make_unique<CommandReward>(o);
}

}  // namespace pt::rl
