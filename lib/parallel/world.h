#pragma once
// The process group of a run. Launched by mpirun / srun (MPI environment present) it is the MPI
// world; otherwise a single process. Collectives here are for CPU tensors over MPI (data-parallel
// training on CPU ranks); NCCL for CUDA ranks is the next parallel step.
#include <string>
#include <vector>

#include <ATen/ATen.h>

namespace pt::parallel {

class World {
 public:
  static World& get();
  // Initialises MPI when the process was started by an MPI launcher; idempotent.
  void init();
  void finalize();
  // Rank and size within this process's group: all ranks, or after split_rollout() the training
  // ranks or the rollout workers. Every collective below runs within the group.
  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_size() const { return local_size_; }
  bool is_main() const { return rank_ == 0 && !worker_; }
  int global_rank() const { return global_rank_; }
  int global_size() const { return global_size_; }

  // RL with separate roles: the last `workers` ranks become rollout workers, the others train.
  // A link joins training rank 0 (link rank 0) with the workers (link ranks 1..workers).
  void split_rollout(int workers);
  bool is_rollout_worker() const { return worker_; }
  int rollout_workers() const { return workers_; }
  void link_bcast(std::string& bytes) const;                     // from link rank 0
  void link_bcast(const std::vector<at::Tensor>& tensors) const;  // in place, fp32 CPU, from link rank 0
  void link_send(int to, const std::string& bytes) const;
  std::string link_recv(int from) const;
  // Within the group: every rank's bytes at rank 0 (empty elsewhere), and rank 0's parts[r] to rank r.
  std::vector<std::string> gather_bytes(const std::string& mine) const;
  std::string scatter_bytes(const std::vector<std::string>& parts) const;

  void barrier() const;
  // Sums in place over ranks: the tensors are flattened into one fp32 buffer (one collective).
  void allreduce_sum(const std::vector<at::Tensor>& tensors) const;
  double allreduce_sum(double v) const;
  std::vector<double> allreduce_sum(std::vector<double> v) const;  // element-wise, one collective
  int allreduce_max(int v) const;
  [[noreturn]] void abort(int code) const;

 private:
  int rank_ = 0, size_ = 1, local_size_ = 1, global_rank_ = 0, global_size_ = 1, workers_ = 0;
  bool mpi_ = false, worker_ = false;
};

// True when an MPI launcher (Open MPI, MPICH/PMI, Slurm PMIx) started this process.
bool launched_by_mpi();

}  // namespace pt::parallel
