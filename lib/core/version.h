#pragma once
#include <string>

namespace pt {
// Multi-line report: posttrain version + git sha, torch version, CUDA/NCCL/MPI compiled in and
// whether a CUDA device is visible now.
std::string version_report();
}  // namespace pt
