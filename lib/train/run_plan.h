#pragma once
// The decisions of one `posttrain run`, derived once from the recipe, the files it names and the
// checkpoint it resumes: `--dry-run` prints this plan and the run builds from it, so the two cannot
// disagree. Deriving it reads config.json and the tokenizer files (absent files are noted, not
// refused, so a plan can be made on a machine without the weights) and changes nothing.
#include <optional>
#include <string>
#include <vector>

#include "model/options.h"
#include "recipe/recipe.h"
#include "tokenizer/hf_tokenizer.h"

namespace pt::train {

struct RunPlan {
  // Device and precision.
  bool cuda = false;           // trains on CUDA devices
  bool autocast_bf16 = false;  // the forward pass under bf16 autocast, fp32 master weights
  model::Dtype dtype = model::Dtype::Auto;  // the weights' dtype as loaded

  // Tokenizer: model.path's unless tokenizer.path is set; none for a created model without one.
  std::string tokenizer_dir;
  bool tokenizer_here = false;  // loaded (its files exist on this machine)
  int64_t tokenizer_vocab = 0;  // with every added token (0: no tokenizer or not here)
  bool adds_tokens = false;     // the recipe adds tokens (add_tokens, add_special_tokens, add_tokens_file)

  // Model.
  std::string model_path;     // a resumed full fine-tune loads its checkpoint's model/
  bool created = false;       // model.init: random weights from the recipe (and not resumed)
  bool model_here = false;    // config.json exists on this machine (or the model is created)
  int64_t model_vocab = 0;    // the vocabulary of the weights as loaded (0: not here)
  int64_t original_vocab = 0; // model.path's own vocabulary: new-token-only training starts there
  bool grow_vocab = false;    // the tokenizer has more tokens: new rows before training

  // Sharded loading (fsdp ZeRO-3 over a checkpoint): each rank reads only its slices.
  bool zero3 = false;
  bool sharded_load = false;
  bool from_shards = false;   // ... of a resumed checkpoint's model_shards/
  bool rest_sharded = false;  // embeddings, final norm and heads too (nothing reshapes them first)

  // Algorithm.
  std::string algorithm;
  int rollout_ranks = 0;

  std::optional<std::string> resume;  // the checkpoint directory the run continues
  std::vector<std::string> warnings;  // allowed but probably unintended (logged by the run, printed by --dry-run)
};

// model.path's tokenizer unless tokenizer.path is set ("" for a created model without one).
std::string tokenizer_dir(const recipe::Recipe& r);

// The run's tokenizer with the recipe's chat template and added tokens (tokenizer.add_tokens_file
// read here); none without a tokenizer directory, or when it is absent and not `required` (a plan
// made on a machine without the files).
std::optional<tok::HfTokenizer> load_tokenizer(const recipe::Recipe& r, bool required);

// cuda_available: a device is usable (the run) or could be (the dry run: a CUDA build); tokenizer:
// load_tokenizer's. Refuses what the files show the run cannot do (a vocabulary the tokenizer
// outgrows with nothing added, a ZeRO-3 checkpoint resumed without ZeRO-3), naming the file.
RunPlan make_run_plan(const recipe::Recipe& r, const std::optional<std::string>& resume, bool cuda_available,
                      const tok::HfTokenizer* tokenizer);

}  // namespace pt::train
