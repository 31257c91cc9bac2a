#pragma once
// Metric sinks of a run: metrics.jsonl (one object per logged step), TensorBoard event files
// (RUN_DIR/tensorboard) and the console (a progress bar on a terminal, log lines otherwise).
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "train/options.h"

namespace pt::sinks {
class TensorBoardWriter;
}

namespace pt::train {

using Scalars = std::vector<std::pair<std::string, double>>;

class MetricsLog {
 public:
  // `resume_step` > 0: lines of metrics.jsonl after that step (written by the interrupted run after
  // its last checkpoint) are dropped so the file holds each step once.
  MetricsLog(const std::string& run_dir, const LoggingOptions& opts, int64_t total_steps, int64_t resume_step);
  ~MetricsLog();
  void log_step(int64_t step, const Scalars& s);  // step is 1-based
  void log_eval(int64_t step, const Scalars& s);
  void finish();

 private:
  void write(int64_t step, const Scalars& s);
  void console(int64_t step, const Scalars& s);

  std::string path_;
  LoggingOptions opts_;
  int64_t total_;
  int64_t first_step_;
  bool tty_;
  bool bar_open_ = false;
  std::chrono::steady_clock::time_point start_;
  std::unique_ptr<sinks::TensorBoardWriter> tb_;
};

// Peak memory: the CUDA caching allocator's peak on GPU, max RSS on CPU (bytes).
double peak_memory_bytes(bool cuda);
// Dense bf16 peak of the device in FLOP/s (0 when unknown, e.g. CPU: MFU is then not reported).
double device_peak_flops(bool cuda, double configured_tflops);

}  // namespace pt::train
