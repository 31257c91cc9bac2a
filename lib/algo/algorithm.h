#pragma once
// What an algorithm contributes to THE training loop: the loss of one micro-batch. The trainer owns
// accumulation, clipping, stepping, metrics, evaluation, checkpoints and signals.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "model/causal_lm.h"
#include "model/packed.h"

namespace pt::recipe {
struct Recipe;
}

namespace pt::algo {

struct MicroBatch {
  model::PackedInput input;  // rows flattened to N tokens
  at::Tensor labels;         // [N] int64, -100 where no loss (already shifted)
  int64_t num_tokens = 0;    // non-padding tokens
  int64_t num_trained = 0;   // labels != -100
  std::vector<int64_t> doc_lens;  // real documents only (for attention FLOPs)
};

struct LossOut {
  at::Tensor loss;       // scalar to backward: this micro-batch's share of the step loss
  double loss_sum = 0;   // un-normalized summed CE over its trained tokens (metrics)
  int64_t trained = 0;
};

class Algorithm {
 public:
  virtual ~Algorithm() = default;
  // `normalizer`: the trained-token count of the whole optimizer step over all ranks, so that
  // summing micro-batch losses gives the mean over the step's tokens (not a mean of means).
  virtual LossOut micro_step(model::CausalLM& model, const MicroBatch& mb, double normalizer) = 0;
};

using AlgorithmFactory = std::function<std::unique_ptr<Algorithm>(const recipe::Recipe&)>;

}  // namespace pt::algo
