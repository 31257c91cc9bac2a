#pragma once
// `posttrain eval`'s task file: YAML, typed like a recipe (unknown keys refused with file:line).
//   tasks:
//     - name: arithmetic
//       path: arith.jsonl          # one record per line: {"prompt": text | messages} or {"messages": [...]},
//                                  # plus the fields the scorers read (answer, ...); relative to this file
//       scorers: [{name: numeric}] # the reward registry (posttrain list reward)
//       max_new_tokens: 32
//       samples: 4                 # completions per prompt (temperature > 0 for k > 1)
//       pass_k: [1, 4]
//       environment: {name: calculator, max_turns: 3}   # optional: each prompt opens an episode of an
//                                  # RL environment (algorithm.grpo.environment's options); the scorers
//                                  # score its last turn, and an episode passes on its return
#include <string>
#include <vector>

#include "algo/options.h"

namespace pt::eval {

struct EvalTask {
  std::string name;
  std::string path;
  std::vector<algo::RewardOptions> scorers;
  int max_new_tokens = 256;
  double temperature = 0;
  double top_p = 1;
  int top_k = 0;
  int samples = 1;
  std::vector<int> pass_k{1};
  double pass_threshold = 1.0;
  int max_items = 0;
  int64_t seed = 0;
  algo::EnvironmentOptions environment;
  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("name", name, Spec("task name (table row, JSON key)").req());
    v.field("path", path, Spec("JSONL of prompts with the fields the scorers read; relative to the task file").req());
    v.field("scorers", scorers, Spec("reward functions scoring each completion (posttrain list reward)"));
    v.field("max_new_tokens", max_new_tokens, Spec("completion length limit").min(1));
    v.field("temperature", temperature, Spec("0 = greedy").min(0));
    v.field("top_p", top_p, Spec("nucleus sampling; 1 = off").gt(0).max(1));
    v.field("top_k", top_k, Spec("top-k sampling; 0 = off").min(0));
    v.field("samples", samples, Spec("completions per prompt (n of pass@k)").min(1));
    v.field("pass_k", pass_k, Spec("k of the unbiased pass@k estimates (each <= samples)").min(1));
    v.field("pass_threshold", pass_threshold, Spec("a completion passes when the first scorer gives at least this"));
    v.field("max_items", max_items, Spec("evaluate the first N prompts only; 0 = all").min(0));
    v.field("seed", seed, Spec("sampling seed of the first completion (each has its own)").min(0));
    v.field("environment", environment,
            Spec("the RL environment each prompt is an episode of, with algorithm.grpo.environment's options "
                 "(single_turn = one completion, the default). With another, a sample is a whole episode: the "
                 "scorers score its last turn, its return is the environment's reward plus the scorers' weighted "
                 "sum (GRPO's reward), pass@k counts returns >= pass_threshold, and the episode's turns, tool "
                 "calls and stop reasons are reported"));
  }
};

struct EvalTasks {
  std::vector<EvalTask> tasks;
  template <class V>
  void visit(V& v) {
    v.field("tasks", tasks, recipe::Spec("evaluation tasks").req());
  }
};

// Parses and checks the file; task paths resolved against its directory.
EvalTasks load_tasks(const std::string& file);

}  // namespace pt::eval
