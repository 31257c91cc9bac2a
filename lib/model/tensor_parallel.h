#pragma once
// Tensor parallelism (Megatron-LM style) as the model sees it. A TpGroup is the set of ranks that
// hold one model between them: each owns a slice of every sharded weight and they exchange
// activations with blocking collectives inside the forward and backward passes.
//   column-parallel (q, k, v, gate, up: output rows split, dim 0): each rank computes its heads /
//     its share of the MLP width from the replicated input;
//   row-parallel (o, down: input columns split, dim 1): each rank's partial product, summed over
//     the group (the bias, replicated, added once after the sum);
//   vocabulary-parallel embedding and LM head (rows split): a lookup of the ids a rank owns, summed;
//     the losses take max / sum-exp / target logit over the group (algo/vocab_parallel.h).
// Everything else (norms, routers, classification heads) is replicated and gets the same gradient
// on every rank, so no collective is needed for it.
#include <memory>
#include <string>

#include <ATen/ATen.h>

namespace pt::model {

struct ArchSpec;

class TpGroup {
 public:
  virtual ~TpGroup() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Element-wise sum over the group, in place on a contiguous tensor; returns when `t` holds it
  // (on CUDA: when the current stream is ordered after it).
  virtual void all_reduce_sum(const at::Tensor& t) = 0;
  // Every rank's contiguous `t`, concatenated along dim 0 in rank order.
  virtual at::Tensor all_gather(const at::Tensor& t) = 0;
};

// The dimension a parameter (HF name) is split along under tensor parallelism: 0 (rows), 1
// (columns) or -1 (replicated).
int tp_split_dim(const ArchSpec& arch, const std::string& name);

// f: identity forward, gradient summed over the group backward (before a column-parallel layer).
at::Tensor tp_copy(const at::Tensor& x, TpGroup* group);
// g: sum over the group forward, identity backward (after a row-parallel layer / the embedding).
at::Tensor tp_reduce(const at::Tensor& x, TpGroup* group);

// A whole tensor from every rank's slice along `dim` (0 or 1), in rank order.
at::Tensor tp_gather(const at::Tensor& local, int dim, TpGroup* group);
// This rank's slice of `full` along `dim` (contiguous copy).
at::Tensor tp_slice(const at::Tensor& full, int dim, const TpGroup& group);
// Elements [begin, begin + dst.numel()) of the flattened slice `rank` of `size` along `dim` (0, 1;
// -1: the whole tensor) of a tensor of shape `whole`, read from `src` — the stored tensor, which may
// have fewer rows than `whole` (vocabulary padding: those rows read as zeros). Touches only the
// rows the range covers: how ZeRO-3 fills a rank's share of a tensor-parallel slice from mapped
// files without the slice ever existing on it.
void tp_read_slice_range(const at::Tensor& src, at::IntArrayRef whole, int dim, int rank, int size, int64_t begin,
                         const at::Tensor& dst);

}  // namespace pt::model
