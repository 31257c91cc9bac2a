#pragma once
// Recipe section `parallel`.
#include "recipe/fields.h"

namespace pt::parallel {

enum class Device { Auto, Cpu, Cuda };
enum class Strategy { Ddp, Fsdp };
enum class Backend { Auto, Nccl, Mpi };

struct ParallelOptions {
  Device device = Device::Auto;
  int data_parallel = 0;  // 0 = all ranks
  int tensor_parallel = 1;
  Strategy strategy = Strategy::Ddp;
  Backend backend = Backend::Auto;
  int zero_stage = 3;
  double bucket_mb = 25;
  double timeout_s = 1800;

  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("device", device, Spec("auto = CUDA when available"));
    v.field("data_parallel", data_parallel, Spec("data-parallel degree; 0 = world size / tensor_parallel").min(0));
    v.field("tensor_parallel", tensor_parallel,
            Spec("tensor-parallel degree: consecutive ranks that split every weight between them (attention heads, MLP "
                 "width, vocabulary rows; Megatron-style); launched ranks = data_parallel x tensor_parallel")
                .min(1));
    v.field("strategy", strategy,
            Spec("ddp = replicated weights, bucketed all-reduce; fsdp = ZeRO sharding (zero_stage) over data-parallel ranks"));
    v.field("backend", backend, Spec("collectives; auto = nccl on CUDA, mpi on CPU"));
    v.field("zero_stage", zero_stage,
            Spec("fsdp sharding: 1 = optimizer state, 2 = + gradients, 3 = + parameters").min(1).max(3));
    v.field("bucket_mb", bucket_mb, Spec("gradient bucket size; a bucket's reduction starts during the backward pass").min(0.001));
    v.field("timeout_s", timeout_s,
            Spec("a collective not done after this long aborts every rank (a dead or hung rank)").min(1));
  }
};

}  // namespace pt::parallel

PT_RECIPE_ENUM(pt::parallel::Device, {pt::parallel::Device::Auto, "auto"}, {pt::parallel::Device::Cpu, "cpu"},
               {pt::parallel::Device::Cuda, "cuda"})
PT_RECIPE_ENUM(pt::parallel::Strategy, {pt::parallel::Strategy::Ddp, "ddp"}, {pt::parallel::Strategy::Fsdp, "fsdp"})
PT_RECIPE_ENUM(pt::parallel::Backend, {pt::parallel::Backend::Auto, "auto"}, {pt::parallel::Backend::Nccl, "nccl"},
               {pt::parallel::Backend::Mpi, "mpi"})
