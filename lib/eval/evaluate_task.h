#pragma once
// One evaluation task on a model: every prompt's `samples` completions from the generation engine
// (or, with a task environment, `samples` episodes of it: generate <-> environment until done),
// scored by the reward registry's functions, summarized as each scorer's mean and unbiased pass@k.
// `posttrain eval` runs it per task, and so does a training run's evaluation for trainer.eval.tasks
// (the trainer's older eval.generate metric is a plain exact string match, not these scorers).
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/tasks.h"
#include "generate/engine.h"

namespace pt::model {
class CausalLM;
}
namespace pt::tok {
class HfTokenizer;
}
namespace pt::rl {
struct Episode;
}

namespace pt::eval {

struct Item {
  std::vector<int32_t> prompt;
  nlohmann::json record;  // the line's fields (the scorers read their answer fields from it)
  std::string where;      // file:line
};

struct TaskResult {
  std::string name;
  int64_t items = 0, samples = 0;
  std::vector<std::pair<std::string, double>> means;  // per scorer: mean over scorable completions
  std::vector<std::pair<int, double>> pass_at_k;      // by the first scorer's pass_threshold
  double mean_tokens = 0, truncated = 0;
  nlohmann::ordered_json completions;                 // per item: its completions and their scores
};

// Chen et al. (2021): 1 - C(n - c, k) / C(n, k), the chance that k of n samples, c of them correct,
// include a correct one.
double pass_at_k(int n, int c, int k);

// Scores of completions (rows of `per_item` consecutive completions per item): [scorer][completion].
// With episodes (a multi-turn environment), the scorers read each episode's last turn, and the first
// row is the episode's return ("return": the environment's reward plus the scorers' weighted sum).
struct Scored {
  std::vector<std::string> labels;
  std::vector<std::vector<double>> scores;
  std::vector<double> total;  // the scorers' weighted sum per completion (NaN: none scored)
};
Scored score_completions(const std::vector<algo::RewardOptions>& scorers, const std::vector<Item>& items,
                         const std::vector<gen::Completion>& completions, int per_item, const tok::HfTokenizer* tok,
                         const std::vector<rl::Episode>& episodes = {});

// Every prompt of `task`'s JSONL file encoded with the chat template (and its generation prompt),
// before any compute: a bad line fails naming file:line.
std::vector<Item> read_items(const EvalTask& task, const tok::HfTokenizer& tok);

// template_label names the chat template in an environment's errors (a template that is not append-only).
TaskResult run_task(model::CausalLM& model, const tok::HfTokenizer& tok, const EvalTask& task,
                    const std::vector<Item>& items, int64_t max_batch,
                    const std::string& template_label = "the tokenizer's chat template");

}  // namespace pt::eval
