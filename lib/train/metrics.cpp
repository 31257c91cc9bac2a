#include "train/metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/log.h"
#include "posttrain/build_config.h"
#include "sinks/tensorboard.h"

#if PT_HAVE_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <cuda_runtime_api.h>
#endif

namespace pt::train {
namespace fs = std::filesystem;

namespace {
std::string human(double v) {
  if (std::abs(v) >= 1e9) return fmt::format("{:.2f}G", v / 1e9);
  if (std::abs(v) >= 1e6) return fmt::format("{:.2f}M", v / 1e6);
  if (std::abs(v) >= 1e3) return fmt::format("{:.1f}k", v / 1e3);
  return fmt::format("{:.1f}", v);
}
std::string clock(double s) {
  if (!std::isfinite(s) || s < 0) return "--:--";
  auto t = static_cast<int64_t>(s);
  return t >= 3600 ? fmt::format("{}:{:02d}:{:02d}", t / 3600, t / 60 % 60, t % 60) : fmt::format("{:02d}:{:02d}", t / 60, t % 60);
}
double get(const Scalars& s, const std::string& k, double def = NAN) {
  for (const auto& [n, v] : s)
    if (n == k) return v;
  return def;
}
}  // namespace

MetricsLog::MetricsLog(const std::string& run_dir, const LoggingOptions& opts, int64_t total_steps, int64_t resume_step)
    : path_(run_dir + "/metrics.jsonl"), opts_(opts), total_(total_steps), first_step_(resume_step),
      tty_(::isatty(STDOUT_FILENO) != 0), start_(std::chrono::steady_clock::now()) {
  fs::create_directories(run_dir);
  if (opts_.metrics_jsonl && fs::exists(path_)) {
    std::ifstream in(path_);
    std::string line, kept;
    while (std::getline(in, line)) {
      try {
        auto j = nlohmann::json::parse(line);
        // A fresh run (resume_step 0) keeps nothing: not even an earlier run's evaluation at step 0.
        if (resume_step > 0 && j.value("step", int64_t{0}) <= resume_step) kept += line + "\n";
      } catch (const std::exception&) {
        // A line cut by a kill in mid-write is not worth keeping.
      }
    }
    std::ofstream out(path_, std::ios::trunc);
    out << kept;
  }
  if (opts_.tensorboard) tb_ = std::make_unique<sinks::TensorBoardWriter>(run_dir + "/tensorboard");
}

MetricsLog::~MetricsLog() = default;

void MetricsLog::write(int64_t step, const Scalars& s) {
  if (opts_.metrics_jsonl) {
    nlohmann::json j;
    j["step"] = step;
    // Wall-clock time (Unix seconds): lines of a resumed run interleave with nothing, but runs are
    // compared and joined with other logs by time.
    j["time"] = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    for (const auto& [k, v] : s) j[k] = v;
    std::ofstream out(path_, std::ios::app);
    out << j.dump() << "\n";
  }
  if (tb_) {
    for (const auto& [k, v] : s) tb_->add_scalar(k, v, step);
    tb_->flush();
  }
}

void MetricsLog::console(int64_t step, const Scalars& s) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = (step - first_step_) / std::max(elapsed, 1e-9);
  const double eta = (total_ - step) / std::max(rate, 1e-9);
  std::string fields = fmt::format("loss {:.4f}  lr {:.2e}  grad {:.3f}  tok/s {}", get(s, "loss"), get(s, "lr"),
                                   get(s, "grad_norm"), human(get(s, "tokens_per_s")));
  double mfu = get(s, "mfu");
  if (std::isfinite(mfu)) fields += fmt::format("  mfu {:.1f}%", 100 * mfu);
  if (tty_ && opts_.progress_bar) {
    const int width = 24;
    int filled = total_ > 0 ? static_cast<int>(width * step / total_) : 0;
    std::cout << fmt::format("\r[{}{}] {}/{} {} ETA {}  {}\033[K", std::string(filled, '#'), std::string(width - filled, '.'),
                             step, total_, clock(elapsed), clock(eta), fields)
              << std::flush;
    bar_open_ = true;
  } else if (step % opts_.every == 0 || step == total_) {
    log::info("step {}/{}  {}  ETA {}", step, total_, fields, clock(eta));
  }
}

void MetricsLog::log_step(int64_t step, const Scalars& s) {
  if (step % opts_.every == 0 || step == total_) write(step, s);
  console(step, s);
}

void MetricsLog::log_eval(int64_t step, const Scalars& s) {
  write(step, s);
  if (bar_open_) {
    std::cout << "\n";
    bar_open_ = false;
  }
  std::string line;
  for (const auto& [k, v] : s) line += fmt::format("  {} {:.4g}", k, v);
  log::info("eval at step {}:{}", step, line);
}

void MetricsLog::finish() {
  if (bar_open_) std::cout << "\n";
  bar_open_ = false;
}

double peak_memory_bytes(bool cuda) {
#if PT_HAVE_CUDA
  if (cuda) {
    auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(c10::cuda::current_device());
    return static_cast<double>(stats.allocated_bytes[0].peak);
  }
#else
  (void)cuda;
#endif
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) * 1024.0;
}

double device_peak_flops(bool cuda, double configured_tflops) {
  if (configured_tflops > 0) return configured_tflops * 1e12;
#if PT_HAVE_CUDA
  if (cuda) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, c10::cuda::current_device()) != cudaSuccess) return 0;
    const std::string name = p.name;
    // Dense bf16 tensor-core peaks from the vendor datasheets (SXM parts).
    if (name.find("H100") != std::string::npos || name.find("H200") != std::string::npos) return 989e12;
    if (name.find("A100") != std::string::npos) return 312e12;
    if (name.find("B200") != std::string::npos) return 2250e12;
    if (name.find("L40") != std::string::npos) return 181e12;
    return 0;
  }
#else
  (void)cuda;
#endif
  return 0;
}

}  // namespace pt::train
