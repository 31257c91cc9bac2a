#pragma once
// Separate rollout ranks (algorithm.grpo.rollout_ranks = N): the last N MPI ranks only generate.
// For every rollout batch, training rank 0 gathers the requests of all training ranks, broadcasts the
// policy's trainable weights to the workers (in flat buckets; not again when the batch before had the
// same weights), hands each worker a contiguous share of the requests, and later collects the
// completions and returns each training rank its own (rl/rollout_queue.h: submission and collection
// are separate, so batches may be in flight while the trainers update). A completion's seed travels
// with its request, so the rollouts are the ones the colocated run draws. Multi-turn episodes travel
// as their specs (record, id, seed) and run whole on the worker, its own environment answering the
// turns; the episodes come back with the completions. Workers hold no state across batches but the
// last weights they received, so a resumed run needs nothing from them.
#include <string>
#include <vector>

#include "generate/engine.h"
#include "rl/episodes.h"

namespace pt::rl {

// A training rank's share of a rollout batch: requests, and for multi-turn episodes their specs
// (one per request; empty = plain completions).
struct RolloutBatch {
  std::vector<gen::Request> requests;
  std::vector<EpisodeSpec> specs;
};
struct RemoteRollouts {
  std::vector<gen::Completion> completions;
  std::vector<Episode> episodes;  // one per completion when the batch carried specs
  int64_t version = 0;            // the weights' version (the rollout batch they were taken at)
  // Partial rollouts: per completion, the version that sampled each token (empty: all `version`).
  std::vector<std::vector<int32_t>> versions;
  double generate_s = 0;          // the workers' generation time (the slowest worker's)
  double sync_s = 0;              // the weight broadcast's time (0 when the weights were already there)
  double wait_s = 0;              // how long the trainers waited for the results
};

std::string encode_batch(const RolloutBatch& b);
RolloutBatch decode_batch(const std::string& bytes);
std::string encode_results(const RemoteRollouts& r);
RemoteRollouts decode_results(const std::string& bytes);

// The policy's trainable weights as flat fp32 buckets of at most `bucket_bytes` (a copy: a snapshot
// the trainer may update past), and back into the parameters.
std::vector<at::Tensor> pack_weights(model::CausalLM& policy, int64_t bucket_bytes);
void unpack_weights(const std::vector<at::Tensor>& buckets, model::CausalLM& policy);
// The bucket sizes pack_weights gives (the worker allocates its receive buffers from them).
std::vector<int64_t> bucket_sizes(model::CausalLM& policy, int64_t bucket_bytes);
inline constexpr int64_t kWeightBucketBytes = int64_t{32} << 20;
// The link's commands, broadcast before each batch: weights follow, the last weights stand, or stop.
inline constexpr const char* kRolloutCommand = "rollout";
inline constexpr const char* kRolloutSameCommand = "rollout_same";
inline constexpr const char* kStopCommand = "stop";

// The worker's loop: weights in, requests in, completions out, until released. Returns 0.
// episodes: the recipe's episode stage, for batches that carry multi-turn episodes (may be null).
int serve_rollouts(model::CausalLM& policy, const tok::HfTokenizer* tokenizer, int max_batch, bool autocast_bf16,
                   EpisodeStage* episodes = nullptr);

}  // namespace pt::rl
