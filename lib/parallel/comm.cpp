#include "parallel/comm.h"

#include "core/error.h"
#include "parallel/comm_impl.h"

namespace pt::parallel {

std::unique_ptr<Comm> make_comm(Backend backend, const at::Device& device) {
  if (backend == Backend::Auto) backend = device.is_cuda() ? Backend::Nccl : Backend::Mpi;
  if (backend == Backend::Nccl) {
    if (!device.is_cuda()) fail("parallel.backend: nccl runs on CUDA ranks, this run is on the CPU (use auto or mpi)");
    return make_nccl_comm(device);
  }
  if (device.is_cuda())
    fail("parallel.backend: mpi moves CPU tensors; CUDA ranks need nccl (or auto)");
  return make_mpi_comm();
}

}  // namespace pt::parallel
