// Peak host memory while loading a checkpoint: parameters are created empty and filled tensor by
// tensor from the mmapped safetensors, releasing mapped pages as we go, so the peak should be
// close to the parameters' size. Prints peak RSS growth as a ratio of the on-disk size.
//   bench_model_load MODEL_DIR [float32|bfloat16]
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "model/causal_lm.h"

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
  auto m = pt::model::CausalLM::from_pretrained(o, at::kCPU);
  long peak = status_kb("VmHWM:");
  size_t param_bytes = 0;
  for (const auto& [n, p] : m->named_parameters(false)) param_bytes += p.numel() * p.element_size();
  std::printf("safetensors on disk   %8.1f MB\n", disk / 1e6);
  std::printf("parameters in memory  %8.1f MB\n", param_bytes / 1e6);
  std::printf("peak RSS before load  %8.1f MB\n", before / 1e3);
  std::printf("peak RSS after load   %8.1f MB\n", peak / 1e3);
  std::printf("peak growth / params  %8.2fx   (1.00x = no transient copies)\n",
              (peak - before) * 1e3 / static_cast<double>(param_bytes));
  return 0;
}
