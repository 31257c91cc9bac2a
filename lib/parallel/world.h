#pragma once
// The process group of a run. Launched by mpirun / srun (MPI environment present) it is the MPI
// world; otherwise a single process. World's own collectives (barriers, stop flags, metrics) run on
// its communication thread in issue order, and every wait has a deadline (parallel.timeout_s), so a
// rank that died or hangs makes the others abort with a message instead of waiting forever. Tensor
// traffic (gradient buckets, parameter shards) goes through parallel::Comm (comm.h), each with a
// communicator and thread of its own, under the same deadline.
#include <functional>
#include <future>
#include <string>
#include <vector>

#include <ATen/ATen.h>

namespace pt::parallel {

// Exit code of a rank that gave up waiting on a collective (parallel.timeout_s).
inline constexpr int kExitCollectiveTimeout = 86;

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
  int local_rank() const { return local_rank_; }  // among the ranks on this node: picks the GPU
  bool is_main() const { return rank_ == 0 && tp_rank_ == 0 && !worker_; }
  int global_rank() const { return global_rank_; }
  int global_size() const { return global_size_; }
  int hosts() const { return hosts_; }  // nodes the launch spans

  // Tensor parallelism: consecutive groups of `tp` ranks hold one model between them (tensor-parallel
  // groups, on one node when tp divides the ranks per node); ranks with the same position in their
  // group form a data-parallel group. Afterwards rank()/size() and the collectives above and below
  // (metrics, data sharding, gradient buckets) are the data-parallel group's; barrier() and
  // allreduce_max() (stop requests, failures) span every rank, so all ranks stop together.
  void split_tensor_parallel(int tp);
  int tp_rank() const { return tp_rank_; }
  int tp_size() const { return tp_size_; }
  bool is_main_of_tp() const { return tp_rank_ == 0; }

  // RL with separate roles: the last `workers` ranks become rollout workers, the others train.
  // A link joins training rank 0 (link rank 0) with the workers (link ranks 1..workers).
  void split_rollout(int workers);
  bool is_rollout_worker() const { return worker_; }
  int rollout_workers() const { return workers_; }
  void link_bcast(std::string& bytes) const;                     // from link rank 0
  void link_bcast(const std::vector<at::Tensor>& tensors) const;  // in place, fp32 CPU, from link rank 0
  // results: the second channel (worker -> rank 0), usable while another thread uses the first.
  void link_send(int to, const std::string& bytes, bool results = false) const;
  // `what` set: the wait has the run's deadline (parallel.timeout_s) and names what it waited for.
  std::string link_recv(int from, bool results = false, const std::string& what = "") const;
  // Within the group: every rank's bytes at rank 0 (empty elsewhere), and rank 0's parts[r] to rank r.
  std::vector<std::string> gather_bytes(const std::string& mine) const;
  std::string scatter_bytes(const std::vector<std::string>& parts) const;
  void bcast_bytes(std::string& bytes, bool tensor_group = false) const;  // from group rank 0

  // Deadline for every wait on a collective (default 600 s).
  void set_timeout(double seconds) { timeout_s_ = seconds; }
  double timeout() const { return timeout_s_; }
  // Waits for work posted to a communication thread; past the deadline it aborts every rank with
  // `what` in the message.
  void wait(const std::shared_future<void>& done, const std::string& what) const;
  // A duplicate of the group communicator (collective over the group), as a Fortran handle
  // (MPI_Comm_f2c turns it back): a communicator of its own for each parallel::Comm.
  int dup_comm_f(bool tensor_group = false) const;

  void barrier() const;
  double allreduce_sum(double v) const;
  std::vector<double> allreduce_sum(std::vector<double> v) const;  // element-wise, one collective
  int allreduce_max(int v) const;
  [[noreturn]] void abort(int code) const;

 private:
  // Runs `fn` (MPI calls on this group) on World's communication thread, in issue order, and waits
  // for it (with the deadline).
  void run(const std::function<void()>& fn, const char* what) const;

  int tp_rank_ = 0, tp_size_ = 1;
  int rank_ = 0, size_ = 1, local_size_ = 1, local_rank_ = 0, global_rank_ = 0, global_size_ = 1, workers_ = 0;
  double timeout_s_ = 600;
  int hosts_ = 1;
  bool mpi_ = false, worker_ = false;
};

// True when an MPI launcher (Open MPI, MPICH/PMI, Slurm PMIx) started this process.
bool launched_by_mpi();
// The MPI library's own version line ("Open MPI v4.1.4"); "" in a build without MPI.
std::string mpi_library_version();

}  // namespace pt::parallel
