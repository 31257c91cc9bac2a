#pragma once
// The two Comm implementations behind make_comm (comm.cpp picks one).
#include <memory>

#include "parallel/comm.h"

namespace pt::parallel {

std::unique_ptr<Comm> make_mpi_comm();
// Only in builds with NCCL; `device` is this rank's GPU.
std::unique_ptr<Comm> make_nccl_comm(const at::Device& device);

}  // namespace pt::parallel
