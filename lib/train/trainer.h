#pragma once
// THE training loop, shared by every algorithm, in named phases (torchtitan's shape):
//   fit              — restore, baseline evaluation, train(), final evaluation / checkpoint / export
//   train            — one prepared batch after another until the last step or a stop signal
//   train_step       — the algorithm prepares this rank's micro-batches; one or more optimizer updates
//   forward_backward — one micro-batch: the algorithm's loss, backward
// Accumulation normalizes by the step's global count (never a mean of means); clipping, AdamW and
// the schedule, metrics; evaluation and checkpoints decide their own cadence (Evaluator,
// Checkpointer); SIGTERM/SIGUSR1 checkpoint and exit for a requeue.
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "algo/algorithm.h"
#include "data/loader.h"
#include "data/stream.h"
#include "model/causal_lm.h"
#include "model/tensor_parallel.h"
#include "parallel/step_strategy.h"
#include "optim/adamw.h"
#include "parallel/data_parallel.h"
#include "recipe/recipe.h"
#include "tokenizer/hf_tokenizer.h"
#include "train/checkpointer.h"
#include "train/evaluate.h"
#include "train/geometry.h"
#include "train/metrics.h"
#include "train/state_parts.h"

namespace pt::train {

struct TrainerParts {
  const recipe::LoadedRecipe* recipe = nullptr;
  const tok::HfTokenizer* tokenizer = nullptr;
  const data::DataSet* data = nullptr;
  model::CausalLM* model = nullptr;
  optim::Optimizer* optimizer = nullptr;
  parallel::DataParallel* dp = nullptr;  // several ranks or fsdp: bucketed / sharded gradients
  algo::Algorithm* algorithm = nullptr;
  bool cuda = false;
  bool autocast_bf16 = false;
  const nlohmann::json* provenance = nullptr;  // this segment's record, kept in every checkpoint
};

class Trainer {
 public:
  explicit Trainer(TrainerParts parts);
  ~Trainer();
  // Trains from scratch or from the complete checkpoint `resume_dir` (whose model weights the
  // caller already loaded). Returns the exit code (0, or kExitRequeue after a signal).
  int fit(const std::optional<std::string>& resume_dir);

 public:
  struct Fault {
    int64_t step = -1;
    bool hang = false;
    bool term = false;
  };

 private:
  // Per step: summed metric values (double, on the device until the step ends) and denominators.
  struct StepMetrics {
    std::vector<std::string> order;
    std::map<std::string, std::pair<at::Tensor, double>> acc;
    void add(const algo::MetricSum& m);
  };

  int train();
  // False when the data ran out before the step could start.
  bool train_step();
  // The next batch of the stream, and the algorithm's look-ahead (the batches after it, read early
  // and trained on later: the checkpointed data state stays that of the last trained batch).
  std::optional<data::StepBatch> next_batch();
  data::LoaderOptions loader_options() const;
  void setup_algorithm(bool resuming);
  void restore(const std::optional<std::string>& resume_dir, nlohmann::json& restored_data);
  void build_loop_parts();
  void export_final();
  void forward_backward(size_t index, const algo::Prepared& prep, StepMetrics& metrics, bool last);  // prep.micro[index]
  double optimizer_update();
  void log_step(const data::StepBatch& batch, const algo::Prepared& prep, StepMetrics& sm, double lr, double grad_norm,
                double dt, const std::vector<int64_t>& doc_lens);
  void evaluate();
  std::string checkpoint();
  bool tensor_parallel() const { return p_.model->tp_group() && p_.model->tp_group()->size() > 1; }

  TrainerParts p_;
  BatchGeometry geo_;
  Progress st_;
  std::unique_ptr<data::Loader> loader_;
  std::deque<data::StepBatch> ahead_;  // batches read ahead of training (algo::Algorithm::lookahead)
  nlohmann::json data_state_;  // the loader's state after the last trained step (what checkpoints save)
  std::vector<data::SourceStats> last_stats_;
  std::unique_ptr<MetricsLog> metrics_;
  std::unique_ptr<Evaluator> evaluator_;
  std::unique_ptr<Checkpointer> checkpointer_;
  std::unique_ptr<parallel::SingleRank> single_rank_;  // without data parallelism
  parallel::StepStrategy* strategy_ = nullptr;             // p_.dp or single_rank_
  double peak_flops_ = 0;
  Fault fault_;
};

}  // namespace pt::train
