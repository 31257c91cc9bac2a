#pragma once
// Held-out evaluation: the algorithm's own metrics over the eval split (SFT: loss and perplexity;
// DPO: reward accuracy and margins; distillation: KL) — and per held-out source, as eval/NAME/METRIC,
// when there are several or they are data.eval_sources — and optionally the exact-match accuracy of
// greedy generations against the reference answers (a task over the held-out prompts), and optionally
// a `posttrain eval` task file run with the same code as that command (eval/TASK/METRIC). The
// Evaluator decides its own cadence.
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

// eval.generate's items: the eval split's chat records (last turn = the assistant answer),
// prompt/completion records and preference records (the chosen answer), each prompt ending with the
// generation prompt and its record holding the reference as "answer".
std::vector<eval::Item> generation_items(const data::DataSet& ds);

class Evaluator {
 public:
  Evaluator(const EvalOptions& opts, algo::Algorithm* algorithm, model::CausalLM* model, const data::DataSet* data,
            int rows_per_batch);
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
  // eval.generate: greedy completions of the held-out prompts, scored as `posttrain eval` scores a
  // task with exact_match against the reference answer.
  eval::EvalTask generate_task_;
  std::vector<eval::Item> gen_;
  eval::EvalTasks tasks_;                         // trainer.eval.tasks
  std::vector<std::vector<eval::Item>> task_items_;
  bool enabled_;
  std::vector<size_t> per_source_;  // held-out sources reported on their own (eval/NAME/METRIC)
};

}  // namespace pt::train
