#pragma once
// Checkpoints of a tensor-parallel run hold whole tensors, the same files as any other run, so they
// resume on any tensor- and data-parallel layout and export without a conversion step. Around a
// save the ranks of the group holding data-parallel rank 0 gather each split parameter and its AdamW
// moments one tensor at a time (TpWhole); rank 0, the writer, keeps the whole tensors in host
// memory while it writes, the others only take part. After a load every rank cuts its slice of the
// moments back out.
#include <functional>
#include <vector>

#include "model/causal_lm.h"
#include "optim/adamw.h"

namespace pt::train {

class TpWhole {
 public:
  // `active`: this rank takes part (every rank of one tensor-parallel group together); `keep`: it
  // is the writer and holds the whole tensors (in host memory) meanwhile. `opt` may be null (the
  // model alone: exports). `trainable_only`: the trained parameters alone (checkpoints and LoRA
  // adapter exports need no frozen base). `skip`: parameters left split (ZeRO-3's decoder layers,
  // which checkpoints keep as shards and exports gather one layer at a time).
  TpWhole(model::CausalLM& model, optim::Optimizer* opt, bool active, bool keep, bool trainable_only,
          std::function<bool(const std::string&)> skip = nullptr);
  ~TpWhole();
  TpWhole(const TpWhole&) = delete;
  TpWhole& operator=(const TpWhole&) = delete;

 private:
  model::CausalLM& model_;
  bool active_;
  std::vector<std::function<void()>> restore_;  // puts each optimizer moment's slice back
};

// After a checkpoint's AdamW moments were loaded: each moment on its parameter's device (a tensor
// parallel checkpoint keeps the split ones in host memory), and this rank's slices of whole ones.
void place_optimizer_moments(model::CausalLM& model, optim::Optimizer& opt);

}  // namespace pt::train
