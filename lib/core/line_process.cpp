#include "core/line_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "core/error.h"

namespace pt {

LineProcess::LineProcess(std::string command, std::string who) : command_(std::move(command)), who_(std::move(who)) {
  // A helper that dies must not kill us through SIGPIPE on the next write.
  signal(SIGPIPE, SIG_IGN);
}

LineProcess::~LineProcess() { stop(); }

void LineProcess::start() {
  int in[2], out[2];
  if (pipe(in) != 0 || pipe(out) != 0) fail("{}: cannot create pipes: {}", who_, std::strerror(errno));
  pid_ = fork();
  if (pid_ < 0) fail("{}: cannot fork: {}", who_, std::strerror(errno));
  if (pid_ == 0) {
    setpgid(0, 0);  // its own process group: stop() ends the shell and whatever it started
    dup2(in[0], STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    close(in[0]), close(in[1]), close(out[0]), close(out[1]);
    execl("/bin/sh", "sh", "-c", command_.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  setpgid(pid_, pid_);
  close(in[0]);
  close(out[1]);
  to_ = in[1];
  from_ = out[0];
  fcntl(from_, F_SETFL, fcntl(from_, F_GETFL) | O_NONBLOCK);
  buf_.clear();
  ++starts_;
}

void LineProcess::stop() {
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
std::string LineProcess::exit_status() {
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

std::vector<std::string> LineProcess::exchange(const std::string& request, size_t replies, double timeout_s,
                                               const std::string& unit) {
  try {
    return exchange_or_throw(request, replies, timeout_s, unit);
  } catch (const Error&) {
    stop();
    throw;
  }
}

void LineProcess::send(const std::string& lines) {
  if (pid_ <= 0 || lines.empty()) return;
  size_t sent = 0;
  for (int tries = 0; sent < lines.size() && tries < 1000; ++tries) {
    const ssize_t w = ::write(to_, lines.data() + sent, lines.size() - sent);
    if (w < 0 && errno != EAGAIN && errno != EINTR) return;
    if (w > 0) sent += static_cast<size_t>(w);
  }
}

std::vector<std::string> LineProcess::exchange_or_throw(const std::string& req, size_t replies, double timeout_s,
                                                        const std::string& unit) {
  if (pid_ <= 0) start();
  // Requests go out whole before replies are read; a large request is written in pieces between
  // reads so neither side blocks on a full pipe.
  size_t sent = 0;
  std::vector<std::string> out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (out.size() < replies) {
    for (size_t nl; out.size() < replies && (nl = buf_.find('\n')) != std::string::npos;) {
      out.push_back(buf_.substr(0, nl));
      buf_.erase(0, nl + 1);
    }
    if (out.size() == replies) break;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      fail("{}: no reply within timeout_s = {} for {} {} of {}", who_, timeout_s, unit, out.size() + 1, replies);
    pollfd fds[2] = {{from_, POLLIN, 0}, {to_, static_cast<short>(sent < req.size() ? POLLOUT : 0), 0}};
    const int n = poll(fds, sent < req.size() ? 2 : 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (n < 0 && errno != EINTR) fail("{}: poll failed: {}", who_, std::strerror(errno));
    if (sent < req.size() && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t w = ::write(to_, req.data() + sent, req.size() - sent);
      if (w < 0 && errno != EAGAIN && errno != EINTR)
        fail("{}: the process {} before reading {} {} of {}", who_, exit_status(), unit, out.size() + 1, replies);
      if (w > 0) sent += static_cast<size_t>(w);
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char chunk[65536];
      const ssize_t r = ::read(from_, chunk, sizeof(chunk));
      if (r == 0) fail("{}: the process {} after {} of {} replies", who_, exit_status(), out.size(), replies);
      if (r > 0) buf_.append(chunk, static_cast<size_t>(r));
    }
  }
  return out;
}

}  // namespace pt
