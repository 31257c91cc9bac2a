// Comm over MPI for CPU ranks: a duplicate of the group's communicator and a thread of its own that
// issues its collectives in order while the caller (the backward pass) keeps computing. Two Comms
// (gradients, parameter gathers) therefore never constrain each other's order.
#include <algorithm>

#include "core/error.h"
#include "parallel/comm.h"
#include "parallel/comm_impl.h"
#include "parallel/comm_thread.h"
#include "parallel/world.h"
#include "posttrain/build_config.h"

#if PT_HAVE_MPI
#include <mpi.h>
#endif

namespace pt::parallel {

namespace {

class MpiWork : public Work {
 public:
  MpiWork(std::shared_future<void> done, std::string what) : done_(std::move(done)), what_(std::move(what)) {}
  void wait() override { World::get().wait(done_, what_); }

 private:
  std::shared_future<void> done_;
  std::string what_;
};

void check_cpu(const at::Tensor& t, const char* op) {
  PT_CHECK(t.device().is_cpu() && t.scalar_type() == at::kFloat && t.is_contiguous(),
           "{} over MPI needs contiguous fp32 CPU tensors (CUDA ranks use parallel.backend: nccl)", op);
}

#if PT_HAVE_MPI
// MPI counts are int: at most 2^30 elements per call.
constexpr int64_t kPiece = int64_t{1} << 30;
#endif

class MpiComm : public Comm {
 public:
  explicit MpiComm(bool tensor_group) : tensor_(tensor_group) {
#if PT_HAVE_MPI
    if (size() > 1) {
      comm_f_ = World::get().dup_comm_f(tensor_group);
      thread_ = std::make_unique<CommThread>();
    }
#endif
  }
  ~MpiComm() override {
    thread_.reset();
#if PT_HAVE_MPI
    if (comm_f_) {
      MPI_Comm c = MPI_Comm_f2c(comm_f_);
      MPI_Comm_free(&c);
    }
#endif
  }
  std::string name() const override { return "mpi"; }
  int rank() const override { return tensor_ ? World::get().tp_rank() : World::get().rank(); }
  int size() const override { return tensor_ ? World::get().tp_size() : World::get().size(); }

  WorkPtr all_reduce_sum(const at::Tensor& t) override {
    check_cpu(t, "all-reduce");
    if (size() == 1) return done();
    return post("all-reduce", [t, c = comm()] {
#if PT_HAVE_MPI
      float* p = t.data_ptr<float>();
      for (int64_t off = 0; off < t.numel(); off += kPiece)
        MPI_Allreduce(MPI_IN_PLACE, p + off, static_cast<int>(std::min(kPiece, t.numel() - off)), MPI_FLOAT, MPI_SUM, c);
#endif
    });
  }

  WorkPtr reduce_scatter_sum(const at::Tensor& in, const at::Tensor& out) override {
    check_cpu(in, "reduce-scatter");
    check_cpu(out, "reduce-scatter");
    PT_CHECK(in.numel() == out.numel() * size(), "reduce-scatter: {} elements in, {} out over {} ranks", in.numel(),
             out.numel(), size());
    if (size() == 1) return copy(out, in);
    PT_CHECK(out.numel() < kPieceLimit, "reduce-scatter: a shard of {} elements is over MPI's int count", out.numel());
    return post("reduce-scatter", [in, out, c = comm()] {
#if PT_HAVE_MPI
      MPI_Reduce_scatter_block(in.data_ptr<float>(), out.data_ptr<float>(), static_cast<int>(out.numel()), MPI_FLOAT,
                               MPI_SUM, c);
#endif
    });
  }

  WorkPtr all_gather(const at::Tensor& in, const at::Tensor& out) override {
    check_cpu(in, "all-gather");
    check_cpu(out, "all-gather");
    PT_CHECK(out.numel() == in.numel() * size(), "all-gather: {} elements in, {} out over {} ranks", in.numel(),
             out.numel(), size());
    if (size() == 1) return copy(out, in);
    PT_CHECK(in.numel() < kPieceLimit, "all-gather: a shard of {} elements is over MPI's int count", in.numel());
    // In place when `in` already is this rank's part of `out`.
    const bool in_place = in.data_ptr<float>() == out.data_ptr<float>() + rank() * in.numel();
    return post("all-gather", [in, out, in_place, c = comm()] {
#if PT_HAVE_MPI
      MPI_Allgather(in_place ? MPI_IN_PLACE : in.data_ptr<float>(), static_cast<int>(in.numel()), MPI_FLOAT,
                    out.data_ptr<float>(), static_cast<int>(in.numel()), MPI_FLOAT, c);
#else
      (void)in_place;
#endif
    });
  }

 private:
  static constexpr int64_t kPieceLimit = int64_t{1} << 31;
#if PT_HAVE_MPI
  MPI_Comm comm() const { return MPI_Comm_f2c(comm_f_); }
#else
  int comm() const { return 0; }
#endif
  WorkPtr post(const char* what, std::function<void()> fn) {
    return std::make_shared<MpiWork>(thread_->post(std::move(fn)), what);
  }
  bool tensor_ = false;
  int comm_f_ = 0;
  std::unique_ptr<CommThread> thread_;
  // A single rank has nothing to exchange: reduce-scatter and all-gather are copies.
  static WorkPtr done() {
    std::promise<void> p;
    p.set_value();
    return std::make_shared<MpiWork>(p.get_future().share(), "");
  }
  static WorkPtr copy(const at::Tensor& dst, const at::Tensor& src) {
    if (!dst.is_same(src)) dst.copy_(src);
    return done();
  }
};

}  // namespace

std::unique_ptr<Comm> make_mpi_comm(bool tensor_group) { return std::make_unique<MpiComm>(tensor_group); }

}  // namespace pt::parallel
