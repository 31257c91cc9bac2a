// Comm over NCCL through torch's c10d ProcessGroupNCCL (async work on its own CUDA stream, the
// c10d watchdog enforcing parallel.timeout_s and tearing the job down on a failed collective).
// Bootstrap: group rank 0 serves a c10d TCPStore on a free port; host and port reach the other
// ranks over MPI (MASTER_ADDR overrides the host, e.g. for a Slurm head node's fabric address).
#include "parallel/comm_impl.h"
#include "posttrain/build_config.h"

#include "core/error.h"

#if PT_HAVE_NCCL
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL
#endif
#include <unistd.h>

#include <chrono>
#include <cstdlib>

#include <c10/cuda/CUDAGuard.h>
#include <torch/csrc/distributed/c10d/HashStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "core/log.h"
#include "parallel/world.h"
#endif

namespace pt::parallel {

#if PT_HAVE_NCCL
namespace {

class NcclWork : public Work {
 public:
  explicit NcclWork(c10::intrusive_ptr<c10d::Work> w) : w_(std::move(w)) {}
  // Makes the current stream wait for the collective (the host does not block); errors and
  // timeouts surface through the c10d watchdog.
  void wait() override { w_->wait(); }

 private:
  c10::intrusive_ptr<c10d::Work> w_;
};

// `tensor_group`: the store of World's tensor-parallel group (each group serves its own).
c10::intrusive_ptr<c10d::Store> make_store(const World& world, bool tensor_group) {
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(world.timeout() * 1000));
  const int rank = tensor_group ? world.tp_rank() : world.rank(), size = tensor_group ? world.tp_size() : world.size();
  if (size == 1) return c10::make_intrusive<c10d::HashStore>();
  std::string addr;
  if (rank == 0) {
    c10d::TCPStoreOptions o;
    o.port = 0;  // a free port, told to the others below
    o.isServer = true;
    o.numWorkers = size;
    o.waitWorkers = false;
    o.timeout = timeout;
    const char* host = std::getenv("MASTER_ADDR");
    char name[256] = {0};
    if (!host) {
      ::gethostname(name, sizeof(name) - 1);
      host = name;
    }
    auto server = c10::make_intrusive<c10d::TCPStore>(host, o);
    addr = std::string(host) + " " + std::to_string(server->getPort());
    world.bcast_bytes(addr, tensor_group);
    return server;
  }
  world.bcast_bytes(addr, tensor_group);
  const auto space = addr.rfind(' ');
  c10d::TCPStoreOptions o;
  o.port = static_cast<uint16_t>(std::stoi(addr.substr(space + 1)));
  o.isServer = false;
  o.numWorkers = size;
  o.timeout = timeout;
  return c10::make_intrusive<c10d::TCPStore>(addr.substr(0, space), o);
}

class NcclComm : public Comm {
 public:
  NcclComm(const at::Device& device, bool tensor_group) : device_(device) {
    const auto& world = World::get();
    c10::cuda::set_device(device.index());
    auto opts = c10d::ProcessGroupNCCL::Options::create();
    opts->timeout = std::chrono::milliseconds(static_cast<int64_t>(world.timeout() * 1000));
    const int rank = tensor_group ? world.tp_rank() : world.rank();
    const int size = tensor_group ? world.tp_size() : world.size();
    pg_ = c10::make_intrusive<c10d::ProcessGroupNCCL>(make_store(world, tensor_group), rank, size, opts);
    log::info("NCCL process group ({}): rank {} of {} on cuda:{}", tensor_group ? "tensor-parallel" : "data-parallel",
              rank, size, device.index());
  }
  std::string name() const override { return "nccl"; }
  int rank() const override { return pg_->getRank(); }
  int size() const override { return pg_->getSize(); }

  WorkPtr all_reduce_sum(const at::Tensor& t) override {
    std::vector<at::Tensor> ts{t};
    c10d::AllreduceOptions o;
    o.reduceOp = c10d::ReduceOp::SUM;
    return std::make_shared<NcclWork>(pg_->allreduce(ts, o));
  }
  WorkPtr reduce_scatter_sum(const at::Tensor& in, const at::Tensor& out) override {
    c10d::ReduceScatterOptions o;
    o.reduceOp = c10d::ReduceOp::SUM;
    at::Tensor i = in, u = out;
    return std::make_shared<NcclWork>(pg_->_reduce_scatter_base(u, i, o));
  }
  WorkPtr all_gather(const at::Tensor& in, const at::Tensor& out) override {
    at::Tensor i = in, u = out;
    return std::make_shared<NcclWork>(pg_->_allgather_base(u, i, c10d::AllgatherOptions()));
  }

 private:
  at::Device device_;
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> pg_;
};

}  // namespace

std::unique_ptr<Comm> make_nccl_comm(const at::Device& device, bool tensor_group) {
  return std::make_unique<NcclComm>(device, tensor_group);
}
#else
std::unique_ptr<Comm> make_nccl_comm(const at::Device&, bool) {
  fail("parallel.backend: nccl needs a build with CUDA and NCCL (this one has neither; rebuild on a machine with the "
       "CUDA toolkit, see README 'GPU')");
}
#endif

}  // namespace pt::parallel
