#pragma once
// Separate rollout ranks (algorithm.grpo.rollout_ranks = N): the last N MPI ranks only generate.
// For every rollout batch, training rank 0 gathers the requests of all training ranks, broadcasts the
// policy's trainable weights to the workers, hands each worker a contiguous share of the requests,
// collects the completions and returns each training rank its own. A completion's seed travels with
// its request, so the rollouts are the ones the colocated run draws. Multi-turn episodes travel as
// their specs (record, id, seed) and run whole on the worker, its own environment answering the
// turns; the episodes come back with the completions. Workers hold no state across batches (the
// weights arrive with every batch, episodes end within it), so a resumed run needs nothing from them.
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
};

std::string encode_batch(const RolloutBatch& b);
RolloutBatch decode_batch(const std::string& bytes);
std::string encode_results(const RemoteRollouts& r);
RemoteRollouts decode_results(const std::string& bytes);

// On every training rank (collective over them): the completions (and episodes) of this rank's requests.
RemoteRollouts remote_generate(model::CausalLM& policy, const std::vector<gen::Request>& reqs,
                               const std::vector<EpisodeSpec>& specs = {});
// On every rank after training: training rank 0 releases the workers (the others return at once).
void stop_rollout_workers();
// The worker's loop: weights in, requests in, completions out, until released. Returns 0.
// episodes: the recipe's episode stage, for batches that carry multi-turn episodes (may be null).
int serve_rollouts(model::CausalLM& policy, const tok::HfTokenizer* tokenizer, int max_batch, bool autocast_bf16,
                   EpisodeStage* episodes = nullptr);

}  // namespace pt::rl
