#include "parallel/world.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "core/error.h"
#include "core/log.h"
#include "parallel/comm_thread.h"
#include "posttrain/build_config.h"

#if PT_HAVE_MPI
#include <mpi.h>
#endif

namespace pt::parallel {

#if PT_HAVE_MPI
namespace {
// The group's communicator (all ranks until split_rollout) and the training-rank-0 <-> workers link.
MPI_Comm g_comm = MPI_COMM_NULL;
MPI_Comm g_link = MPI_COMM_NULL;
// The link's second channel, for the workers' results: training rank 0 receives them on its main
// thread while its sender thread may be broadcasting the next batch's weights on g_link.
MPI_Comm g_link_results = MPI_COMM_NULL;
// Under tensor parallelism g_comm is the data-parallel group; g_tp the tensor-parallel group and
// g_all every rank of the run.
MPI_Comm g_tp = MPI_COMM_NULL;
MPI_Comm g_all = MPI_COMM_NULL;
MPI_Comm comm() { return g_comm == MPI_COMM_NULL ? MPI_COMM_WORLD : g_comm; }
MPI_Comm all() { return g_all == MPI_COMM_NULL ? comm() : g_all; }
}  // namespace
#endif

namespace {
std::unique_ptr<CommThread> g_thread;
}  // namespace

bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
    if (std::getenv(v)) return true;
  return false;
}

World& World::get() {
  static World w;
  return w;
}

void World::init() {
#if PT_HAVE_MPI
  if (mpi_ || !launched_by_mpi()) return;
  int inited = 0;
  MPI_Initialized(&inited);
  // Collectives run on the communication thread while the main thread may abort the job after a
  // deadline: MPI must allow calls from more than one thread.
  int provided = 0;
  if (!inited) MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided);
  else MPI_Query_thread(&provided);
  if (provided < MPI_THREAD_MULTIPLE) {
    log::error("the MPI library offers thread level {} (of 0..3); posttrain needs MPI_THREAD_MULTIPLE (3): its "
               "collectives run on communication threads. Use an MPI built with thread support (Open MPI 4+: default)",
               provided);
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  global_rank_ = rank_;
  global_size_ = size_;
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
  MPI_Comm_size(local, &local_size_);
  MPI_Comm_rank(local, &local_rank_);
  MPI_Comm_free(&local);
  // Nodes: one rank per node has local rank 0 (provenance records the layout).
  int leader = local_rank_ == 0 ? 1 : 0;
  MPI_Allreduce(&leader, &hosts_, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  mpi_ = true;
  if (global_size_ > 1) g_thread = std::make_unique<CommThread>();
#endif
}


std::string mpi_library_version() {
#if PT_HAVE_MPI
  char v[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int len = 0;
  MPI_Get_library_version(v, &len);  // may be called before MPI_Init
  std::string s(v, static_cast<size_t>(len));
  const size_t nl = s.find_first_of("\n,");
  return nl == std::string::npos ? s : s.substr(0, nl);
#else
  return "";
#endif
}

void World::wait(const std::shared_future<void>& done, const std::string& what) const {
  const auto limit = std::chrono::duration<double>(timeout_s_);
  if (done.wait_for(limit) == std::future_status::timeout) {
    log::error("{} did not complete within {:.0f} s (parallel.timeout_s): another rank failed, was killed or hangs; "
               "stopping every rank", what, timeout_s_);
    abort(kExitCollectiveTimeout);
  }
  done.get();  // rethrows what the collective threw
}

void World::run(const std::function<void()>& fn, const char* what) const {
  if (!g_thread) return fn();  // one process: nothing to wait on
  wait(g_thread->post(fn), what);
}

int World::dup_comm_f(bool tensor_group) const {
#if PT_HAVE_MPI
  MPI_Comm dup = MPI_COMM_NULL;
  PT_CHECK(!tensor_group || g_tp != MPI_COMM_NULL, "no tensor-parallel group (split_tensor_parallel first)");
  run([&] { MPI_Comm_dup(tensor_group ? g_tp : comm(), &dup); }, "communicator set-up");
  return static_cast<int>(MPI_Comm_c2f(dup));
#else
  return 0;
#endif
}

void World::finalize() {
#if PT_HAVE_MPI
  if (mpi_) {
    g_thread.reset();
    if (g_link != MPI_COMM_NULL) MPI_Comm_free(&g_link);
    if (g_link_results != MPI_COMM_NULL) MPI_Comm_free(&g_link_results);
    if (g_tp != MPI_COMM_NULL) MPI_Comm_free(&g_tp);
    if (g_all != MPI_COMM_NULL) MPI_Comm_free(&g_all);
    if (g_comm != MPI_COMM_NULL) MPI_Comm_free(&g_comm);
    MPI_Finalize();
    mpi_ = false;
  }
#endif
}

void World::barrier() const {
#if PT_HAVE_MPI
  if (mpi_) run([] { MPI_Barrier(all()); }, "barrier");
#endif
}

double World::allreduce_sum(double v) const {
#if PT_HAVE_MPI
  if (mpi_ && size_ > 1) run([&] { MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_DOUBLE, MPI_SUM, comm()); }, "all-reduce");
#endif
  return v;
}

std::vector<double> World::allreduce_sum(std::vector<double> v) const {
#if PT_HAVE_MPI
  if (mpi_ && size_ > 1 && !v.empty())
    run([&] { MPI_Allreduce(MPI_IN_PLACE, v.data(), static_cast<int>(v.size()), MPI_DOUBLE, MPI_SUM, comm()); },
        "metrics all-reduce");
#endif
  return v;
}

int World::allreduce_max(int v) const {
#if PT_HAVE_MPI
  if (mpi_ && size_ * tp_size_ > 1)
    run([&] { MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_MAX, all()); }, "all-reduce (max)");
#endif
  return v;
}

void World::split_tensor_parallel(int tp) {
  if (tp <= 1) return;
  if (size_ % tp != 0)
    fail("parallel.tensor_parallel = {} does not divide the {} rank(s) of the run (launch a multiple of {} ranks)", tp,
         size_, tp);
  PT_CHECK(tp_size_ == 1 && !worker_ && workers_ == 0, "split_tensor_parallel: already split");
#if PT_HAVE_MPI
  if (!mpi_) return;
  const int rank = rank_;
  run(
      [&] {
        MPI_Comm_dup(comm(), &g_all);
        MPI_Comm_split(g_all, rank / tp, rank, &g_tp);
        MPI_Comm dp = MPI_COMM_NULL;
        MPI_Comm_split(g_all, rank % tp, rank, &dp);
        if (g_comm != MPI_COMM_NULL) MPI_Comm_free(&g_comm);
        g_comm = dp;
      },
      "tensor-parallel split");
  tp_size_ = tp;
  tp_rank_ = rank % tp;
  rank_ = rank / tp;
  size_ /= tp;
#endif
}

void World::split_rollout(int workers) {
  if (workers <= 0) return;
#if PT_HAVE_MPI
  if (!mpi_ || workers >= global_size_)
    fail("algorithm.grpo.rollout_ranks = {} needs at least {} MPI ranks (the run has {}): launch with mpirun -np {}",
         workers, workers + 1, global_size_, workers + 1);
  workers_ = workers;
  worker_ = global_rank_ >= global_size_ - workers;
  MPI_Comm_split(MPI_COMM_WORLD, worker_ ? 1 : 0, global_rank_, &g_comm);
  MPI_Comm_rank(g_comm, &rank_);
  MPI_Comm_size(g_comm, &size_);
  // Global rank 0 is training rank 0, and the lowest key: link rank 0.
  const bool linked = worker_ || global_rank_ == 0;
  MPI_Comm_split(MPI_COMM_WORLD, linked ? 0 : MPI_UNDEFINED, global_rank_, &g_link);
  if (g_link != MPI_COMM_NULL) MPI_Comm_dup(g_link, &g_link_results);
#else
  fail("algorithm.grpo.rollout_ranks = {} needs MPI, which this build lacks", workers);
#endif
}

#if PT_HAVE_MPI
namespace {
constexpr int kTag = 7301;
// The link's waits poll and sleep instead of spinning: its ranks wait on each other for as long as a
// generation or an update takes, and a spinning wait (MPI's default) takes the core another rank, or
// the trainer's own compute threads, need. A yielding wait costs at most ~0.2 ms per message.
// A wait with a deadline (`what` set): past `timeout_s` every rank is stopped, as a collective that
// outlives parallel.timeout_s stops them (World::wait).
struct Deadline {
  double timeout_s = 0;
  const std::string* what = nullptr;
};
void wait_yielding(MPI_Request& r, const Deadline& d = {}) {
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0;; ++i) {
    int done = 0;
    MPI_Test(&r, &done, MPI_STATUS_IGNORE);
    if (done) return;
    if (i > 64) std::this_thread::sleep_for(std::chrono::microseconds(200));
    if (d.what && (i & 1023) == 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > d.timeout_s) {
      log::error("{} did not complete within {:.0f} s (parallel.timeout_s): the rank failed, was killed or hangs; "
                 "stopping every rank", *d.what, d.timeout_s);
      World::get().abort(kExitCollectiveTimeout);
    }
  }
}
void send(const void* p, int n, MPI_Datatype t, int to, MPI_Comm c, bool yielding) {
  if (!yielding) {
    MPI_Send(p, n, t, to, kTag, c);
    return;
  }
  MPI_Request r;
  MPI_Isend(p, n, t, to, kTag, c, &r);
  wait_yielding(r);
}
void recv(void* p, int n, MPI_Datatype t, int from, MPI_Comm c, bool yielding, const Deadline& d = {}) {
  if (!yielding) {
    MPI_Recv(p, n, t, from, kTag, c, MPI_STATUS_IGNORE);
    return;
  }
  MPI_Request r;
  MPI_Irecv(p, n, t, from, kTag, c, &r);
  wait_yielding(r, d);
}
void bcast(void* p, int n, MPI_Datatype t, MPI_Comm c, bool yielding) {
  if (!yielding) {
    MPI_Bcast(p, n, t, 0, c);
    return;
  }
  MPI_Request r;
  MPI_Ibcast(p, n, t, 0, c, &r);
  wait_yielding(r);
}
constexpr uint64_t kChunk = 1u << 30;
int chunk(uint64_t n, uint64_t off) { return static_cast<int>(std::min<uint64_t>(kChunk, n - off)); }
void send_bytes(const std::string& b, int to, MPI_Comm c, bool yielding = false) {
  const uint64_t n = b.size();
  send(&n, 1, MPI_UINT64_T, to, c, yielding);
  for (uint64_t off = 0; off < n; off += kChunk) send(b.data() + off, chunk(n, off), MPI_BYTE, to, c, yielding);
}
std::string recv_bytes(int from, MPI_Comm c, bool yielding = false, const Deadline& d = {}) {
  uint64_t n = 0;
  recv(&n, 1, MPI_UINT64_T, from, c, yielding, d);
  std::string b(n, '\0');
  for (uint64_t off = 0; off < n; off += kChunk) recv(b.data() + off, chunk(n, off), MPI_BYTE, from, c, yielding);
  return b;
}
void bcast_string(std::string& b, MPI_Comm c, bool yielding = false) {
  uint64_t n = b.size();
  bcast(&n, 1, MPI_UINT64_T, c, yielding);
  b.resize(n);
  for (uint64_t off = 0; off < n; off += kChunk) bcast(b.data() + off, chunk(n, off), MPI_BYTE, c, yielding);
}
}  // namespace
#endif

void World::link_bcast(std::string& bytes) const {
#if PT_HAVE_MPI
  PT_CHECK(g_link != MPI_COMM_NULL, "link_bcast outside the rollout link");
  bcast_string(bytes, g_link, true);
#endif
}

void World::link_bcast(const std::vector<at::Tensor>& tensors) const {
#if PT_HAVE_MPI
  PT_CHECK(g_link != MPI_COMM_NULL, "link_bcast outside the rollout link");
  for (const auto& t : tensors) {
    PT_CHECK(t.is_contiguous() && t.device().is_cpu(), "rollout weight broadcast needs contiguous CPU tensors");
    auto* p = static_cast<char*>(t.data_ptr());
    const int64_t n = t.numel() * static_cast<int64_t>(t.element_size());
    for (uint64_t off = 0; off < static_cast<uint64_t>(n); off += kChunk)
      bcast(p + off, chunk(static_cast<uint64_t>(n), off), MPI_BYTE, g_link, true);
  }
#endif
}

void World::link_send(int to, const std::string& bytes, bool results) const {
#if PT_HAVE_MPI
  send_bytes(bytes, to, results ? g_link_results : g_link, true);
#endif
}

std::string World::link_recv(int from, bool results, const std::string& what) const {
#if PT_HAVE_MPI
  return recv_bytes(from, results ? g_link_results : g_link, true, Deadline{timeout_s_, what.empty() ? nullptr : &what});
#else
  return {};
#endif
}

std::vector<std::string> World::gather_bytes(const std::string& mine) const {
  std::vector<std::string> out;
  if (size_ == 1) return {mine};
#if PT_HAVE_MPI
  run(
      [&] {
        if (rank_ == 0) {
          out.push_back(mine);
          for (int r = 1; r < size_; ++r) out.push_back(recv_bytes(r, comm()));
        } else {
          send_bytes(mine, 0, comm());
        }
      },
      "gather");
#endif
  return out;
}

std::string World::scatter_bytes(const std::vector<std::string>& parts) const {
  if (size_ == 1) return parts.at(0);
#if PT_HAVE_MPI
  std::string mine;
  run(
      [&] {
        if (rank_ == 0) {
          for (int r = 1; r < size_; ++r) send_bytes(parts.at(r), r, comm());
          mine = parts.at(0);
        } else {
          mine = recv_bytes(0, comm());
        }
      },
      "scatter");
  return mine;
#else
  return {};
#endif
}

void World::bcast_bytes(std::string& bytes, bool tensor_group) const {
  if ((tensor_group ? tp_size_ : size_) == 1) return;
#if PT_HAVE_MPI
  run([&] { bcast_string(bytes, tensor_group ? g_tp : comm()); }, "broadcast");
#endif
}

void World::abort(int code) const {
#if PT_HAVE_MPI
  if (mpi_ && global_size_ > 1) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::exit(code);
}

}  // namespace pt::parallel
