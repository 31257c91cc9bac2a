#pragma once
// The one place that turns the batch settings into rows per micro-batch, micro-batches per step and
// accumulation per rank (header-only and torch-free: recipe validation, the dry-run plan and the
// trainer all read it).
#include <string>

#include "train/options.h"

namespace pt::train {

struct BatchGeometry {
  int seq_len = 0;
  int micro_tokens = 0;     // tokens per forward/backward on one rank
  int rows_per_micro = 0;   // micro_tokens / seq_len
  int rows_per_step = 0;    // global rows per optimizer step
  int micro_per_step = 0;   // global micro-batches per optimizer step
  int dp = 1;               // data-parallel ranks
  int micro_per_rank = 0;   // gradient-accumulation micro-batches on each rank
  // Empty when consistent, else what is wrong (the caller names the recipe keys).
  std::string problem;
};

inline BatchGeometry batch_geometry(const TrainerOptions& t, int seq_len, int dp) {
  BatchGeometry g;
  g.seq_len = seq_len;
  g.dp = dp > 0 ? dp : 1;
  g.micro_tokens = t.micro_batch_tokens > 0 ? t.micro_batch_tokens : seq_len;
  g.rows_per_micro = seq_len > 0 ? g.micro_tokens / seq_len : 0;
  g.rows_per_step = seq_len > 0 ? t.global_batch_tokens / seq_len : 0;
  g.micro_per_step = g.micro_tokens > 0 ? t.global_batch_tokens / g.micro_tokens : 0;
  g.micro_per_rank = g.micro_per_step / g.dp;
  if (seq_len <= 0 || g.micro_tokens % seq_len != 0)
    g.problem = "micro_batch_tokens must be a multiple of data.seq_len: micro-batches are whole rows";
  else if (t.global_batch_tokens % g.micro_tokens != 0)
    g.problem = "global_batch_tokens must be a multiple of micro_batch_tokens";
  else if (g.micro_per_step % g.dp != 0)
    g.problem = "global_batch_tokens / micro_batch_tokens micro-batches per step must be divisible by the data-parallel size";
  return g;
}

}  // namespace pt::train
