#pragma once
// The components of a checkpoint, one per owner of state (see checkpointer.h).
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "algo/algorithm.h"
#include "checkpoint/pieces.h"
#include "model/causal_lm.h"
#include "optim/adamw.h"
#include "parallel/data_parallel.h"
#include "recipe/recipe.h"
#include "tokenizer/hf_tokenizer.h"
#include "train/checkpointer.h"

namespace pt::train {

// Where the loop is: steps and counters (trainer_state.json). The learning-rate schedule is a pure
// function of (step, total_steps), so this is also the schedule's state.
struct Progress {
  int64_t step = 0, total_steps = 0, tokens = 0, trained = 0;
  double elapsed_s = 0;
};

// The model as HF files from rank 0 — under fsdp ZeRO-3 (full fine-tuning) without the decoder
// layers, which every rank writes as its own shards (sharded_model_state) into kModelShardsDir.
std::unique_ptr<Stateful> model_state(model::CausalLM* model, const tok::HfTokenizer* tokenizer,
                                      const parallel::DataParallel* dp);
std::unique_ptr<Stateful> sharded_model_state(const parallel::DataParallel* dp);
bool layers_in_shards(const model::CausalLM* model, const parallel::DataParallel* dp);
// The final HF export under ZeRO-3 (full fine-tuning): every rank takes part in gathering one
// decoder layer at a time, and `write` (rank 0) stores it as a file of its own beside the rest, with
// model.safetensors.index.json mapping every tensor — no rank ever holds all layers. Under tensor
// parallelism the ranks of the writer's group gather each split tensor of the layer whole.
void export_hf_layerwise(model::CausalLM& model, const tok::HfTokenizer* tokenizer, const std::string& dir,
                         parallel::DataParallel& dp, bool write);
using ckpt::kModelShardsDir;
using ckpt::kModelShardsFormat;
// Replicated (one optimizer.pt from rank 0), or per rank under fsdp.
std::unique_ptr<Stateful> optimizer_state(optim::Optimizer* optimizer, const parallel::DataParallel* dp);
std::unique_ptr<Stateful> progress_state(Progress* progress);
std::unique_ptr<Stateful> rng_state(bool cuda, at::Device device);
// `current`: the data state to save (the loader's state after the last trained step); `restored`
// receives the state read from a checkpoint.
std::unique_ptr<Stateful> data_state(const nlohmann::json* current, nlohmann::json* restored);
std::unique_ptr<Stateful> algorithm_state(algo::Algorithm* algorithm);
std::unique_ptr<Stateful> recipe_state(const recipe::LoadedRecipe* recipe);
// provenance.jsonl of the checkpoint: the lineage read on resume, plus `current` (this segment).
std::unique_ptr<Stateful> provenance_state(const nlohmann::json* current);

// The HF export of a run: the model (a PEFT adapter for LoRA, plus dir/merged when `merge`) and
// the run's tokenizer next to every model directory written. The one writer of tokenizer files.
// `skip`: base tensors left out (ZeRO-3 checkpoints keep the layers in their shards).
void export_hf(const model::CausalLM& model, const tok::HfTokenizer* tokenizer, const std::string& dir, bool merge,
               const std::function<bool(const std::string&)>& skip = nullptr);

}  // namespace pt::train
