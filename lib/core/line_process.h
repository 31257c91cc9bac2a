#pragma once
// A long-lived helper process speaking one JSON object per line: started once (sh -c COMMAND) in
// its own process group, fed requests on stdin, read replies on stdout, with a deadline per
// exchange. Used by the external reward command and external environments. A crash, a hang past
// the deadline or a closed pipe is an Error naming the process (`who`) and where the exchange
// stood; the process is then stopped, and the next exchange starts a fresh one. Its stderr is ours.
#include <sys/types.h>

#include <string>
#include <vector>

namespace pt {

class LineProcess {
 public:
  LineProcess(std::string command, std::string who);
  ~LineProcess();
  LineProcess(const LineProcess&) = delete;
  LineProcess& operator=(const LineProcess&) = delete;

  // Writes `request` (whole lines) and returns the next `replies` lines, within timeout_s seconds.
  // `unit` names what each reply answers in errors ("sample", "episode ...").
  std::vector<std::string> exchange(const std::string& request, size_t replies, double timeout_s,
                                    const std::string& unit = "sample");
  // Writes lines that get no reply (best effort: a dead process is found by the next exchange).
  void send(const std::string& lines);
  void stop();
  bool running() const { return pid_ > 0; }
  // How many times a process was started (a restart loses whatever state the last one held).
  int starts() const { return starts_; }
  const std::string& who() const { return who_; }

 private:
  void start();
  std::string exit_status();
  std::vector<std::string> exchange_or_throw(const std::string& request, size_t replies, double timeout_s,
                                             const std::string& unit);
  std::string command_, who_;
  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
  std::string buf_;
  int starts_ = 0;
};

}  // namespace pt
