#pragma once
// Token sampling for one sequence, as pure functions of its logits and its own random generator: a
// sequence's completion depends on its seed and logits only, never on what else is in the batch.
//
// Order: temperature, then top-k, then top-p (nucleus: the most likely tokens up to cumulative
// probability top_p, including the one that crosses it), then min-p (tokens with probability at
// least min_p times the most likely one's), renormalizing after each. Temperature 0 is greedy.
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace pt::gen {

struct SamplingParams {
  double temperature = 1.0;  // 0 = greedy (argmax)
  int64_t top_k = 0;         // 0 = off
  double top_p = 1.0;        // 1 = off
  double min_p = 0.0;        // 0 = off
  uint64_t seed = 0;
  int max_new_tokens = 64;
  std::vector<int32_t> stop_ids;
  std::vector<std::string> stop_strings;
  int logprobs_top_k = 0;  // also return this many most likely alternatives per token
};

// The distribution sampled from (fp64 probabilities over the vocabulary, zeros where truncated).
at::Tensor sampling_probs(const at::Tensor& logits, const SamplingParams& p);

struct Sampled {
  int32_t token = 0;
  // log p(token) under softmax(logits / T) (T = 1 when greedy) before truncation: what a
  // teacher-forced forward pass of the same model over the same tokens gives.
  double logprob = 0;
  std::vector<std::pair<int32_t, double>> top;  // the logprobs_top_k most likely, same distribution
};

// logits: [V] (any float dtype, any device).
Sampled sample(const at::Tensor& logits, const SamplingParams& p, at::Generator& gen);

}  // namespace pt::gen
