// Lives in pt_torch because it asks libtorch what it was built with.
#include "core/version.h"

#include <fmt/format.h>
#include <torch/cuda.h>

#include "posttrain/build_config.h"
#include "posttrain/git_sha.h"

namespace pt {

std::string build_commit() { return PT_GIT_SHA[0] ? PT_GIT_SHA : "unknown"; }

std::string version_report() {
  auto yn = [](bool b) { return b ? "yes" : "no"; };
  std::string s;
  s += fmt::format("posttrain {} ({})\n", PT_VERSION, PT_GIT_SHA[0] ? PT_GIT_SHA : "unknown");
  s += fmt::format("torch     {}\n", PT_TORCH_VERSION);
  s += fmt::format("cuda      {} (devices visible: {})\n", yn(PT_HAVE_CUDA),
                   PT_HAVE_CUDA ? static_cast<int>(torch::cuda::device_count()) : 0);
  s += fmt::format("nccl      {}\n", yn(PT_HAVE_NCCL));
  s += fmt::format("mpi       {}\n", yn(PT_HAVE_MPI));
  return s;
}

}  // namespace pt
