#pragma once
// Recipe section `parallel`.
#include "recipe/fields.h"

namespace pt::parallel {

enum class Device { Auto, Cpu, Cuda };
enum class Strategy { Ddp, Fsdp };
enum class Backend { Auto, Nccl, Gloo, Mpi };

struct ParallelOptions {
  Device device = Device::Auto;
  int data_parallel = 0;  // 0 = all ranks
  int tensor_parallel = 1;
  Strategy strategy = Strategy::Ddp;
  Backend backend = Backend::Auto;

  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("device", device, Spec("auto = CUDA when available"));
    v.field("data_parallel", data_parallel, Spec("data-parallel degree; 0 = world size / tensor_parallel").min(0));
    v.field("tensor_parallel", tensor_parallel, Spec("tensor-parallel degree").min(1));
    v.field("strategy", strategy, Spec("ddp = replicated weights; fsdp = parameters/grads/optimizer sharded"));
    v.field("backend", backend, Spec("collectives; auto = nccl on CUDA, mpi/gloo on CPU"));
  }
};

}  // namespace pt::parallel

PT_RECIPE_ENUM(pt::parallel::Device, {pt::parallel::Device::Auto, "auto"}, {pt::parallel::Device::Cpu, "cpu"},
               {pt::parallel::Device::Cuda, "cuda"})
PT_RECIPE_ENUM(pt::parallel::Strategy, {pt::parallel::Strategy::Ddp, "ddp"}, {pt::parallel::Strategy::Fsdp, "fsdp"})
PT_RECIPE_ENUM(pt::parallel::Backend, {pt::parallel::Backend::Auto, "auto"}, {pt::parallel::Backend::Nccl, "nccl"},
               {pt::parallel::Backend::Gloo, "gloo"}, {pt::parallel::Backend::Mpi, "mpi"})
