#pragma once
// The two Comm implementations behind make_comm (comm.cpp picks one).
#include <memory>

#include "parallel/comm.h"

namespace pt::parallel {

// `tensor_group`: over World's tensor-parallel group instead of its (data-parallel) group.
std::unique_ptr<Comm> make_mpi_comm(bool tensor_group);
// Only in builds with NCCL; `device` is this rank's GPU.
std::unique_ptr<Comm> make_nccl_comm(const at::Device& device, bool tensor_group);

}  // namespace pt::parallel
