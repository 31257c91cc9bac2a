#pragma once
// The communicator the training loop's gradient and shard traffic goes through: asynchronous
// collectives on flat buffers, returning a handle to wait on. Two implementations:
//   mpi  — CPU ranks; runs on World's communication thread (overlaps with the backward pass);
//   nccl — CUDA ranks; torch's c10d ProcessGroupNCCL on its own stream, bootstrapped through a
//          c10d TCPStore whose address travels over MPI (comm_nccl.cpp).
// Both wait with the run's deadline (parallel.timeout_s) and abort every rank past it.
#include <memory>
#include <string>

#include <ATen/ATen.h>

#include "parallel/options.h"

namespace pt::parallel {

class Work {
 public:
  virtual ~Work() = default;
  virtual void wait() = 0;
};
using WorkPtr = std::shared_ptr<Work>;

class Comm {
 public:
  virtual ~Comm() = default;
  virtual std::string name() const = 0;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Element-wise sum over ranks, in place.
  virtual WorkPtr all_reduce_sum(const at::Tensor& t) = 0;
  // `in` holds size() equal parts; rank r receives the sum of every rank's part r in `out`.
  virtual WorkPtr reduce_scatter_sum(const at::Tensor& in, const at::Tensor& out) = 0;
  // Rank r's `in` lands in part r of `out` (size() * in.numel() elements) on every rank.
  virtual WorkPtr all_gather(const at::Tensor& in, const at::Tensor& out) = 0;
};

// parallel.backend for tensors on `device` (auto: nccl on CUDA, mpi on CPU); refuses combinations
// that cannot run, naming the key — also for single-rank runs, which never communicate.
Backend resolve_backend(Backend backend, const at::Device& device);
// The communicator of this process's data-parallel group (World), or with `tensor_group` of its
// tensor-parallel group, for tensors on `device`.
std::unique_ptr<Comm> make_comm(Backend backend, const at::Device& device, bool tensor_group = false);

}  // namespace pt::parallel
