#include "train/provenance.h"

#include <unistd.h>

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/Version.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "algo/column_softmax.h"
#include "core/version.h"
#include "parallel/world.h"
#include "posttrain/build_config.h"
#include "provenance/store.h"
#include "recipe/inputs.h"

#if PT_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif
#if PT_HAVE_NCCL
#include <nccl.h>
#endif

namespace pt::train {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string utc_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

json build_section() {
  return {{"posttrain", PT_VERSION},
          {"commit", build_commit()},
          {"binary", fingerprint_file("/proc/self/exe", "posttrain").hash},
          {"compiler", PT_CXX_COMPILER},
          {"build_type", PT_BUILD_TYPE},
          {"torch", PT_TORCH_VERSION},
          {"with_cuda", static_cast<bool>(PT_HAVE_CUDA)},
          {"with_nccl", static_cast<bool>(PT_HAVE_NCCL)},
          {"with_mpi", static_cast<bool>(PT_HAVE_MPI)}};
}

json libraries_section() {
  json j = json::object();
#if PT_HAVE_CUDA
  int rt = 0, drv = 0;
  if (cudaRuntimeGetVersion(&rt) == cudaSuccess) j["cuda_runtime"] = fmt::format("{}.{}", rt / 1000, rt % 1000 / 10);
  if (cudaDriverGetVersion(&drv) == cudaSuccess && drv > 0) j["cuda_driver"] = fmt::format("{}.{}", drv / 1000, drv % 1000 / 10);
#endif
#if PT_HAVE_NCCL
  int v = 0;
  if (ncclGetVersion(&v) == ncclSuccess) j["nccl"] = fmt::format("{}.{}.{}", v / 10000, v % 10000 / 100, v % 100);
#endif
  if (const std::string mpi = parallel::mpi_library_version(); !mpi.empty()) j["mpi"] = mpi;
  return j;
}

json devices(const at::Device& device) {
  json list = json::array();
#if PT_HAVE_CUDA
  int n = 0;
  if (device.is_cuda() && cudaGetDeviceCount(&n) == cudaSuccess) {
    std::map<std::string, int> names;
    for (int i = 0; i < n; ++i) {
      cudaDeviceProp p{};
      if (cudaGetDeviceProperties(&p, i) == cudaSuccess) ++names[p.name];
    }
    for (const auto& [name, count] : names) list.push_back({{"name", name}, {"count", count}});
  }
#endif
  (void)device;
  return list;
}

// Settings that change floating-point results on the same hardware.
json numerics(const ProvenanceContext& ctx) {
  auto& c = at::globalContext();
  json j{{"precision", ctx.autocast_bf16 ? "bf16 autocast" : "no autocast"},
         {"weights_dtype", ctx.model_dtype},
         {"deterministic_algorithms", c.deterministicAlgorithms()}};
  if (ctx.device.is_cuda()) {
    j["tf32_matmul"] = c.allowTF32CuBLAS();
    j["tf32_cudnn"] = c.allowTF32CuDNN();
  }
  return j;
}

// Variables that change threading, instruction sets or collective algorithms when set.
json numerics_env() {
  json j = json::object();
  for (const char* k : {"OMP_NUM_THREADS", "MKL_NUM_THREADS", "MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS", "ATEN_CPU_CAPABILITY",
                        "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "CUBLAS_WORKSPACE_CONFIG", "NVIDIA_TF32_OVERRIDE",
                        "NCCL_ALGO", "NCCL_PROTO"})
    if (const char* v = std::getenv(k)) j[k] = v;
  return j;
}

json environment_section(const ProvenanceContext& ctx) {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return {{"host", host},
          {"cpu", cpu_model()},
          {"cpu_capability", at::get_cpu_capability()},
          {"kernel_isa", algo::column_softmax_isa()},
          {"threads", at::get_num_threads()},
          {"device", ctx.device.is_cuda() ? "cuda" : "cpu"},
          {"gpus", devices(ctx.device)},
          {"numerics", numerics(ctx)},
          {"env", numerics_env()}};
}

json launch_section() {
  const auto& w = parallel::World::get();
  return {{"launcher", parallel::launched_by_mpi() ? "mpi" : "single process"},
          {"world_size", w.global_size()},
          {"training_ranks", w.size() * w.tp_size()},
          {"data_parallel", w.size()},
          {"tensor_parallel", w.tp_size()},
          {"rollout_ranks", w.rollout_workers()},
          {"hosts", w.hosts()}};
}

}  // namespace

json provenance_settings(const ProvenanceContext& ctx) {
  json j{{"format", provenance::kFormat}, {"event", ctx.resumed_from ? "resume" : "start"}, {"time", utc_now()}};
  if (ctx.resumed_from) j["resumed_from"] = *ctx.resumed_from;
  j["recipe_hash"] = ctx.recipe->hash;
  j["build"] = build_section();
  j["libraries"] = libraries_section();
  j["environment"] = environment_section(ctx);
  j["launch"] = launch_section();
  j["command"] = {{"argv", ctx.argv}, {"cwd", fs::current_path().string()}, {"overrides", ctx.overrides}};
  return j;
}

InputFingerprint fingerprint_path(const std::string& role, const std::string& path) {
  InputFingerprint in{role, path, {}};
  std::error_code ec;
  std::vector<fs::path> files;
  if (fs::is_directory(path, ec)) {
    for (const auto& e : fs::directory_iterator(path, ec))
      if (e.is_regular_file(ec) && e.path().filename().string()[0] != '.') files.push_back(e.path());
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(path);
  }
  // A large model comes as many shards: they are hashed on up to half the cores (CRC-32 runs at
  // ~2.5 GB/s per core here), so the hash keeps up with a fast disk.
  in.files.resize(files.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next++) < files.size();) {
      const fs::path& p = files[i];
      const std::string name = p.filename().string();
      in.files[i] = p.extension() == ".safetensors" ? fingerprint_safetensors(p.string(), name)
                                                    : fingerprint_file(p.string(), name);
    }
  };
  const size_t threads = std::min<size_t>({files.size(), 8, std::max(1u, std::thread::hardware_concurrency() / 2)});
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  return in;
}

InputFingerprint fingerprint_command(const std::string& role, const std::string& command) {
  InputFingerprint in{role, command, {}};
  std::istringstream words(command);
  std::string w;
  bool first = true;
  while (words >> w) {
    if (w.size() >= 2 && (w.front() == '\'' || w.front() == '"') && w.back() == w.front()) w = w.substr(1, w.size() - 2);
    std::string file = w;
    if (first && w.find('/') == std::string::npos) {
      // The executable, found on PATH as sh would find it.
      std::istringstream dirs(std::getenv("PATH") ? std::getenv("PATH") : "");
      file.clear();
      for (std::string d; std::getline(dirs, d, ':');)
        if (!d.empty() && ::access((d + "/" + w).c_str(), X_OK) == 0) {
          file = d + "/" + w;
          break;
        }
    }
    first = false;
    std::error_code ec;
    if (!file.empty() && fs::is_regular_file(file, ec)) in.files.push_back(fingerprint_file(file, w));
  }
  return in;
}

std::future<std::vector<InputFingerprint>> fingerprint_inputs_async(const recipe::Node& resolved) {
  std::vector<std::pair<std::string, std::string>> paths, commands;
  recipe::for_each_input(resolved, [&](const std::string& key, const recipe::Node& n, recipe::InputKind kind) {
    if (key.rfind("data.", 0) == 0) return;  // hashed while indexed
    (kind == recipe::InputKind::Path ? paths : commands).emplace_back(key, n.scalar);
  });
  return std::async(std::launch::async, [paths, commands] {
    std::vector<InputFingerprint> out;
    std::map<std::string, size_t> done;  // the same directory under two keys is read once
    for (const auto& [key, path] : paths) {
      std::error_code ec;
      const std::string canon = fs::weakly_canonical(path, ec).string();
      auto it = done.find(canon);
      InputFingerprint in = it != done.end() ? out[it->second] : fingerprint_path(key, path);
      in.role = key;
      in.path = path;
      done.emplace(canon, out.size());
      out.push_back(std::move(in));
    }
    for (const auto& [key, cmd] : commands) out.push_back(fingerprint_command(key, cmd));
    return out;
  });
}

}  // namespace pt::train
