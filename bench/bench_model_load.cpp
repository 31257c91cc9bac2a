// Peak host memory while loading a checkpoint: parameters are created empty and filled tensor by
// tensor from the mmapped safetensors, releasing mapped pages as we go, so the peak should be
// close to the parameters' size. Prints peak RSS growth as a ratio of the on-disk size, then the
// cost of the provenance fingerprint of the model directory: standalone, and as the run takes it
// (on a thread while the model loads).
//   bench_model_load MODEL_DIR [float32|bfloat16]
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "model/causal_lm.h"
#include "recipe/node.h"
#include "train/provenance.h"

static double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

static long status_kb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(std::string(key).size()));
  return -1;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL_DIR [float32|bfloat16]\n", argv[0]);
    return 2;
  }
  pt::model::ModelOptions o;
  o.path = argv[1];
  o.dtype = argc > 2 && std::string(argv[2]) == "float32" ? pt::model::Dtype::Float32 : pt::model::Dtype::BFloat16;
  uintmax_t disk = 0;
  for (const auto& e : std::filesystem::directory_iterator(o.path))
    if (e.path().extension() == ".safetensors") disk += e.file_size();
  at::empty({1});  // initialise libtorch before the baseline
  long before = status_kb("VmHWM:");
  double t0 = now();
  auto m = pt::model::CausalLM::from_pretrained(o, at::kCPU);
  const double t_load = now() - t0;
  long peak = status_kb("VmHWM:");
  size_t param_bytes = 0;
  for (const auto& [n, p] : m->named_parameters(false)) param_bytes += p.numel() * p.element_size();
  std::printf("safetensors on disk   %8.1f MB\n", disk / 1e6);
  std::printf("parameters in memory  %8.1f MB\n", param_bytes / 1e6);
  std::printf("peak RSS before load  %8.1f MB\n", before / 1e3);
  std::printf("peak RSS after load   %8.1f MB\n", peak / 1e3);
  std::printf("peak growth / params  %8.2fx   (1.00x = no transient copies)\n",
              (peak - before) * 1e3 / static_cast<double>(param_bytes));
  // Page cache warm from the load above: the hash's own cost, not the disk's.
  t0 = now();
  const auto fp = pt::train::fingerprint_path("model.path", o.path);
  const double t_hash = now() - t0;
  pt::recipe::Node tree = pt::recipe::Node::make_map();
  pt::recipe::apply_override(tree, "model.path=" + o.path);
  m.reset();
  t0 = now();
  auto hashing = pt::train::fingerprint_inputs_async(tree);
  m = pt::model::CausalLM::from_pretrained(o, at::kCPU);
  const double t_loaded = now() - t0;
  hashing.get();
  const double t_both = now() - t0;
  std::printf("load                  %8.2f s\n", t_load);
  std::printf("fingerprint alone     %8.2f s   (%zu files, %.0f MB/s)\n", t_hash, fp.files.size(), disk / 1e6 / t_hash);
  std::printf("load while hashing    %8.2f s   (hash done after %.2f s: %+.2f s over the load alone)\n", t_loaded, t_both,
              t_both - t_load);
  return 0;
}
