#pragma once
// Data-parallel gradient traffic for the training loop (parallel.strategy):
//   ddp    — replicated parameters; each parameter's .grad is a view into a flat bucket, and a
//            bucket's all-reduce starts from the backward pass as soon as its last gradient is
//            accumulated (post-accumulate-grad hooks), in bucket order so every rank issues the
//            same collectives; no full-size copy of the gradients exists besides the buckets.
//   fsdp   — ZeRO over the same buckets, padded to a multiple of the ranks; rank r owns part r of
//            every bucket: its optimizer state only (stage 1: gradients accumulate in the buckets and
//            are reduce-scattered on the last micro-batch), or also only its gradients (stage 2: every
//            micro-batch's bucket is reduce-scattered into the rank's gradient shard and freed, so at
//            most two buckets of full gradients are alive). After the update the owned parameter parts
//            are all-gathered back into the flat parameter buffers the model's tensors view.
//            Stage 3 also shards the parameters of every decoder layer: each layer has buckets of
//            its own whose flat buffers hold data only while the layer runs — gathered before its
//            forward (the next layer's gather prefetched), freed after it, gathered again by a hook
//            on the layer's output before its backward, freed once its gradients are reduced.
//            Parameter gathers use a communicator of their own, so their order never interleaves
//            with the gradient reductions'. The rest (embeddings, final norm, LM head / score head) is
//            sharded the same way as one unit: gathered when a forward pass starts, freed once its
//            gradients are reduced (after a pass without gradients it stays until the next backward).
// Gradient clipping uses the norm over all shards. Buckets are launched in index order (reverse
// parameter order: the order the backward pass produces gradients), so ranks cannot mismatch.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "model/layer_hooks.h"
#include "parallel/step_strategy.h"
#include "model/tensor_parallel.h"
#include "parallel/comm.h"
#include "parallel/options.h"

namespace pt::parallel {

struct TrainableParam {
  std::string name;
  at::Tensor param;
  bool decay = true;  // weight-decay group (buckets never mix groups)
};

// A contiguous run of one parameter's elements owned by this rank (fsdp): elements
// [begin, begin + length) of `name`, stored at `offset` in `shard` (an optimizer parameter).
struct OwnedPiece {
  std::string name;
  int64_t begin = 0, length = 0, offset = 0;
  at::Tensor shard;
};

// The decoder layer a parameter belongs to (HF and PEFT names: "...layers.<i>."), or -1.
int64_t layer_of(const std::string& name);
inline bool in_decoder_layer(const std::string& name) { return layer_of(name) >= 0; }

// Reads elements [begin, begin + dst.numel()) of parameter `name` (flattened) into dst: how stage 3
// fills a rank's shards straight from the checkpoint files, so the full layer never exists on it.
using ParamSource = std::function<void(const std::string& name, int64_t begin, const at::Tensor& dst)>;

class DataParallel : public model::LayerHooks, public StepStrategy {
 public:
  // `gather_comm` (stage 3): the communicator for parameter gathers; default: `comm`. `source`
  // (stage 3): where layer parameters created without memory (LoadContext::defer_param) are read.
  DataParallel(std::vector<TrainableParam> params, std::shared_ptr<Comm> comm, const ParallelOptions& opts,
               std::shared_ptr<Comm> gather_comm = nullptr, ParamSource source = nullptr);
  ~DataParallel() override;
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  bool sharded() const { return stage_ > 0; }
  int zero_stage() const { return stage_; }
  // What the optimizer steps, per weight-decay group: the parameters (ddp) or this rank's shards.
  std::vector<at::Tensor> optimizer_params(bool decay) const;
  std::vector<OwnedPiece> owned_pieces() const;

  void zero_grad() override;
  // Around each micro-batch's backward; `last` marks the micro-batch whose gradients complete the
  // update (ddp and stage 1 communicate only then).
  void begin_backward(bool last) override;
  void end_backward() override;
  // finish() then the clip: ddp on a tensor-parallel mesh counts replicated parameters once.
  double reduce_and_clip(double max_norm) override;
  // Completes every reduction of the update; gradients (or gradient shards) are then final.
  void finish();
  // Clips to max_norm (<= 0: no clipping) by the norm over all ranks' shards; returns the norm.
  double clip_grad_norm(double max_norm);
  // On the data-parallel axis of a tensor-parallel mesh: parameters `split` names are slices of a
  // whole tensor over `tp` (their squares are summed over it), the others the same on every rank of
  // it (counted once) — for the norm of sharded (fsdp) gradients.
  void set_tensor_parallel(model::TpGroup* tp, std::function<bool(const std::string&)> split);
  // After the optimizer step: gathers the updated parameter shards (fsdp).
  void after_step() override;

  // Seconds the caller was blocked waiting on collectives since the last call (the exposed
  // communication time; NCCL waits only order streams, so there it counts host-side blocking).
  double take_wait_seconds();

  // Stage 3: every layer's parameters present (checkpoints, export) / freed again; one layer's
  // (all ranks call them together).
  void gather_all();
  void release_all();
  void gather_layer(int64_t layer) { present(layer); }
  void release_layer(int64_t layer);
  static constexpr int64_t kRest = -1;  // the "layer" of every parameter outside the decoder layers
  void before_model() override;
  void before_layer(int64_t layer) override;
  void after_layer(int64_t layer, const at::Tensor& output) override;

  // Bytes this rank holds for parameters, gradients and optimizer state (2 moments) — the memory
  // accounting of the strategy, logged at start.
  struct Bytes {
    int64_t params = 0, grads = 0, optimizer = 0;
  };
  Bytes bytes() const;

  struct Bucket;

 private:
  void on_grad(size_t param);
  void launch_ready();
  void launch(size_t b);
  void complete(size_t b);
  void wait(WorkPtr& w);   // timed; resets w
  void gather(Bucket& b);  // starts it (asynchronously)
  void present(int64_t layer);
  void wait_gathered(const std::vector<Bucket*>& buckets);
  void release(Bucket& b);
  const std::vector<Bucket*>& layer_buckets(int64_t layer) const;

  std::vector<TrainableParam> params_;
  std::shared_ptr<Comm> comm_, gather_comm_;
  int64_t num_layers_ = 0;
  int stage_ = 0;
  std::vector<std::unique_ptr<Bucket>> buckets_;
  std::vector<std::vector<Bucket*>> units_;  // [layer + 1]: the buckets of kRest and of each layer
  std::vector<std::pair<size_t, int64_t>> where_;  // param -> (bucket, offset)
  bool syncing_ = false;
  bool first_micro_ = true;  // stage 2: the update's first micro-batch reduces straight into gshard
  size_t next_launch_ = 0, next_complete_ = 0;
  double wait_s_ = 0;
  model::TpGroup* tp_ = nullptr;
  std::function<bool(const std::string&)> tp_split_;
};

// Parameters present (ZeRO-3: gathered from every rank) while the scope lives, released when it
// ends, also when an exception leaves it. Null, or a stage below 3: nothing to do.
class Present {
 public:
  static constexpr int64_t kAll = -2;
  explicit Present(DataParallel* dp, int64_t layer = kAll);  // layer: DataParallel::kRest or an index
  ~Present();
  Present(const Present&) = delete;
  Present& operator=(const Present&) = delete;

 private:
  DataParallel* dp_;
  int64_t layer_;
};

}  // namespace pt::parallel
