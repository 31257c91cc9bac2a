#pragma once
// Held-out evaluation: loss and perplexity over the eval split, and optionally exact-match accuracy
// of greedy generations against the reference answers.
#include <string>
#include <vector>

#include "data/stream.h"
#include "model/causal_lm.h"
#include "train/metrics.h"
#include "train/options.h"

namespace pt::train {

struct GenerationExample {
  std::vector<int32_t> prompt;  // ends with the generation prompt
  std::string reference;
  std::string where;
};

// Chat records (last turn = the assistant answer) and prompt/completion records of the eval split.
std::vector<GenerationExample> generation_examples(const data::DataSet& ds);

// Greedy decoding of many prompts at once: each step runs all unfinished sequences as one packed
// batch (no KV cache; fine for short answers) and stops a sequence at any of `stop_ids`.
std::vector<std::vector<int32_t>> greedy_generate(model::CausalLM& model, const std::vector<std::vector<int32_t>>& prompts,
                                                  int max_new_tokens, const std::vector<int32_t>& stop_ids);

Scalars evaluate(model::CausalLM& model, const data::DataSet& ds, const EvalOptions& opts, int rows_per_batch,
                 int64_t ce_chunk, const std::vector<GenerationExample>& gen, const std::vector<int32_t>& stop_ids);

}  // namespace pt::train
