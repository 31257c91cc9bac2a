#pragma once
// THE training loop, shared by every algorithm: micro-batches, accumulation with the loss
// normalized by the step's global trained-token count, clipping, AdamW + schedule, metrics,
// evaluation, atomic checkpoints with exact resume, and SIGTERM/SIGUSR1 handling.
#include <optional>
#include <string>

#include "algo/algorithm.h"
#include "data/stream.h"
#include "model/causal_lm.h"
#include "optim/adamw.h"
#include "recipe/recipe.h"
#include "tokenizer/hf_tokenizer.h"

namespace pt::train {

struct TrainerParts {
  const recipe::LoadedRecipe* recipe = nullptr;
  const tok::HfTokenizer* tokenizer = nullptr;
  const data::DataSet* data = nullptr;
  model::CausalLM* model = nullptr;
  optim::Optimizer* optimizer = nullptr;
  algo::Algorithm* algorithm = nullptr;
  bool cuda = false;
  bool autocast_bf16 = false;
};

class Trainer {
 public:
  explicit Trainer(TrainerParts parts);
  // Trains from scratch or from the complete checkpoint `resume_dir` (whose model weights the
  // caller already loaded). Returns the exit code (0, or kExitRequeue after a signal).
  int fit(const std::optional<std::string>& resume_dir);

 private:
  struct State {
    int64_t step = 0, total_steps = 0, tokens = 0, trained = 0;
    double elapsed_s = 0;
  };
  std::string save_checkpoint(const nlohmann::json& data_state);
  void restore(const std::string& dir, nlohmann::json* data_state);

  TrainerParts p_;
  State st_;
};

}  // namespace pt::train
