#include "parallel/world.h"

#include <cstdlib>

#include "core/error.h"
#include "posttrain/build_config.h"

#if PT_HAVE_MPI
#include <mpi.h>
#endif

namespace pt::parallel {

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
  if (!inited) MPI_Init(nullptr, nullptr);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
  MPI_Comm_size(local, &local_size_);
  MPI_Comm_free(&local);
  mpi_ = true;
#endif
}

void World::finalize() {
#if PT_HAVE_MPI
  if (mpi_) {
    MPI_Finalize();
    mpi_ = false;
  }
#endif
}

void World::barrier() const {
#if PT_HAVE_MPI
  if (mpi_) MPI_Barrier(MPI_COMM_WORLD);
#endif
}

void World::allreduce_sum(const std::vector<at::Tensor>& tensors) const {
  if (size_ == 1 || tensors.empty()) return;
#if PT_HAVE_MPI
  std::vector<at::Tensor> flat;
  for (const auto& t : tensors) {
    PT_CHECK(t.device().is_cpu() && t.scalar_type() == at::kFloat,
             "data-parallel gradient reduction over MPI needs fp32 CPU tensors (CUDA ranks need NCCL)");
    flat.push_back(t.reshape({-1}));
  }
  at::Tensor buf = at::cat(flat);
  // MPI counts are int: reduce in pieces of at most 2^30 elements.
  for (int64_t off = 0; off < buf.numel(); off += (int64_t{1} << 30)) {
    const int n = static_cast<int>(std::min<int64_t>(int64_t{1} << 30, buf.numel() - off));
    MPI_Allreduce(MPI_IN_PLACE, buf.data_ptr<float>() + off, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  }
  int64_t at = 0;
  for (const auto& t : tensors) {
    t.copy_(buf.narrow(0, at, t.numel()).view(t.sizes()));
    at += t.numel();
  }
#endif
}

double World::allreduce_sum(double v) const {
#if PT_HAVE_MPI
  if (mpi_ && size_ > 1) MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
#endif
  return v;
}

std::vector<double> World::allreduce_sum(std::vector<double> v) const {
#if PT_HAVE_MPI
  if (mpi_ && size_ > 1 && !v.empty())
    MPI_Allreduce(MPI_IN_PLACE, v.data(), static_cast<int>(v.size()), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
#endif
  return v;
}

int World::allreduce_max(int v) const {
#if PT_HAVE_MPI
  if (mpi_ && size_ > 1) MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
#endif
  return v;
}

void World::abort(int code) const {
#if PT_HAVE_MPI
  if (mpi_ && size_ > 1) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::exit(code);
}

}  // namespace pt::parallel
