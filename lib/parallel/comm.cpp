#include "parallel/comm.h"

#include "core/error.h"
#include "parallel/comm_impl.h"

namespace pt::parallel {

Backend resolve_backend(Backend backend, const at::Device& device) {
  if (backend == Backend::Auto) return device.is_cuda() ? Backend::Nccl : Backend::Mpi;
  if (backend == Backend::Nccl && !device.is_cuda())
    fail("parallel.backend: nccl runs on CUDA ranks, this run is on the CPU (use auto or mpi)");
  if (backend == Backend::Mpi && device.is_cuda())
    fail("parallel.backend: mpi moves CPU tensors; CUDA ranks need nccl (or auto)");
  return backend;
}

std::unique_ptr<Comm> make_comm(Backend backend, const at::Device& device, bool tensor_group) {
  return resolve_backend(backend, device) == Backend::Nccl ? make_nccl_comm(device, tensor_group)
                                                           : make_mpi_comm(tensor_group);
}

}  // namespace pt::parallel
