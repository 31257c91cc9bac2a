#pragma once
// Separate rollout ranks (algorithm.grpo.rollout_ranks = N): the last N MPI ranks only generate.
// For every rollout batch, training rank 0 gathers the requests of all training ranks, broadcasts the
// policy's trainable weights to the workers, hands each worker a contiguous share of the requests,
// collects the completions and returns each training rank its own. A completion's seed travels with
// its request, so the rollouts are the ones the colocated run draws. Workers hold no state of their
// own (the weights arrive with every batch), so a resumed run needs nothing from them.
#include <string>
#include <vector>

#include "generate/engine.h"

namespace pt::rl {

std::string encode_requests(const std::vector<gen::Request>& reqs);
std::vector<gen::Request> decode_requests(const std::string& bytes);
std::string encode_completions(const std::vector<gen::Completion>& cs);
std::vector<gen::Completion> decode_completions(const std::string& bytes);

// On every training rank (collective over them): the completions of this rank's requests.
std::vector<gen::Completion> remote_generate(model::CausalLM& policy, const std::vector<gen::Request>& reqs);
// On every rank after training: training rank 0 releases the workers (the others return at once).
void stop_rollout_workers();
// The worker's loop: weights in, requests in, completions out, until released. Returns 0.
int serve_rollouts(model::CausalLM& policy, const tok::HfTokenizer* tokenizer, int max_batch, bool autocast_bf16);

}  // namespace pt::rl
