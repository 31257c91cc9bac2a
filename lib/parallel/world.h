#pragma once
// The process group of a run. Launched by mpirun / srun (MPI environment present) it is the MPI
// world; otherwise a single process. Collectives here are for CPU tensors over MPI (data-parallel
// training on CPU ranks); NCCL for CUDA ranks is the next parallel step.
#include <vector>

#include <ATen/ATen.h>

namespace pt::parallel {

class World {
 public:
  static World& get();
  // Initialises MPI when the process was started by an MPI launcher; idempotent.
  void init();
  void finalize();
  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_size() const { return local_size_; }
  bool is_main() const { return rank_ == 0; }

  void barrier() const;
  // Sums in place over ranks: the tensors are flattened into one fp32 buffer (one collective).
  void allreduce_sum(const std::vector<at::Tensor>& tensors) const;
  double allreduce_sum(double v) const;
  std::vector<double> allreduce_sum(std::vector<double> v) const;  // element-wise, one collective
  int allreduce_max(int v) const;
  [[noreturn]] void abort(int code) const;

 private:
  int rank_ = 0, size_ = 1, local_size_ = 1;
  bool mpi_ = false;
};

// True when an MPI launcher (Open MPI, MPICH/PMI, Slurm PMIx) started this process.
bool launched_by_mpi();

}  // namespace pt::parallel
