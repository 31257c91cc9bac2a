#pragma once
#include <string>

namespace pt {
// Multi-line report: posttrain version + git sha, torch version, CUDA/NCCL/MPI compiled in and
// whether a CUDA device is visible now.
std::string version_report();
// The commit this binary was built from ("abc1234", "abc1234-dirty"; "unknown" outside git).
std::string build_commit();
}  // namespace pt
