#pragma once
// Held-out evaluation: the algorithm's own metrics over the eval split (SFT: loss and perplexity;
// DPO: reward accuracy and margins; distillation: KL) — and per held-out source, as eval/NAME/METRIC,
// when there are several or they are data.eval_sources — and optionally exact-match accuracy of greedy
// generations against the reference answers, and optionally a `posttrain eval` task file run with
// the same code as that command (eval/TASK/METRIC). The Evaluator decides its own cadence.
#include <string>
#include <vector>

#include "algo/algorithm.h"
#include "data/stream.h"
#include "eval/evaluate_task.h"
#include "eval/tasks.h"
#include "model/causal_lm.h"
#include "train/metrics.h"
#include "train/options.h"

namespace pt::train {

struct GenerationExample {
  std::vector<int32_t> prompt;  // ends with the generation prompt
  std::string reference;
  std::string where;
};

// Chat records (last turn = the assistant answer), prompt/completion records and preference
// records (reference = the chosen answer) of the eval split.
std::vector<GenerationExample> generation_examples(const data::DataSet& ds);

class Evaluator {
 public:
  Evaluator(const EvalOptions& opts, algo::Algorithm* algorithm, model::CausalLM* model, const data::DataSet* data,
            int rows_per_batch, std::vector<int32_t> stop_ids);
  bool at_start() const { return enabled_ && opts_.at_start; }
  bool periodic_due(int64_t step) const { return enabled_ && opts_.every > 0 && step % opts_.every == 0; }
  bool at_end() const { return enabled_ && opts_.at_end; }
  Scalars run();

 private:
  Scalars run_tasks();
  Scalars held_out(int only_source, const std::string& prefix);

  EvalOptions opts_;
  algo::Algorithm* algorithm_;
  model::CausalLM* model_;
  const data::DataSet* data_;
  int rows_per_batch_;
  std::vector<int32_t> stop_ids_;
  std::vector<GenerationExample> gen_;
  eval::EvalTasks tasks_;                         // trainer.eval.tasks
  std::vector<std::vector<eval::Item>> task_items_;
  bool enabled_;
  std::vector<size_t> per_source_;  // held-out sources reported on their own (eval/NAME/METRIC)
};

}  // namespace pt::train
