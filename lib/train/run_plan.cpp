#include "train/run_plan.h"

#include <filesystem>
#include <fstream>

#include "algo/options.h"
#include "core/error.h"
#include "gguf/import.h"
#include "model/hf_config.h"
#include "recipe/resolved.h"
#include "train/state_parts.h"

namespace pt::train {
namespace fs = std::filesystem;

// A GGUF file (model.path or tokenizer.path) reads through its converted directory.
std::string tokenizer_dir(const recipe::Recipe& r) {
  return gguf::tokenizer_dir(r.tokenizer.path.empty() ? r.model.path : r.tokenizer.path);
}

std::optional<tok::HfTokenizer> load_tokenizer(const recipe::Recipe& r, bool required) {
  const std::string dir = tokenizer_dir(r);
  if (dir.empty() || (!required && !fs::exists(dir))) return std::nullopt;
  auto tok = tok::HfTokenizer::from_dir(dir);
  std::vector<std::string> added = r.tokenizer.add_tokens;
  if (!r.tokenizer.add_tokens_file.empty()) {
    std::ifstream f(r.tokenizer.add_tokens_file);
    if (!f) fail("tokenizer.add_tokens_file: cannot open '{}'", r.tokenizer.add_tokens_file);
    for (std::string line; std::getline(f, line);)
      if (!line.empty()) added.push_back(line);
  }
  if (!r.tokenizer.chat_template.empty()) tok.select_chat_template(r.tokenizer.chat_template);
  if (!r.tokenizer.add_special_tokens.empty()) tok.add_special_tokens(r.tokenizer.add_special_tokens);
  if (!added.empty()) tok.add_tokens(added);
  return tok;
}

namespace {

// Where the weights come from and what they hold.
void plan_model(RunPlan& p, const recipe::Recipe& r) {
  p.created = r.model.init.has_value() && !(p.resume && !r.model.lora);
  // A resumed full fine-tune (or created model) continues from its saved weights; LoRA reloads the
  // base and then its trainable tensors.
  const std::string base = gguf::model_dir(r.model.path);
  p.model_path = p.resume && !r.model.lora ? *p.resume + "/model" : base;
  if (p.created) {
    p.model_here = true;
    p.model_vocab = r.model.init->vocab_size;
  } else if (fs::exists(fs::path(p.model_path) / "config.json")) {
    p.model_here = true;
    const auto c = model::HfConfig::from_file(p.model_path + "/config.json");
    p.model_vocab = c.vocab_size;
    // Not refused: RoPE scaling (dynamic NTK, YaRN) is made for positions past it.
    if (c.max_position_embeddings > 0 && r.data.seq_len > c.max_position_embeddings)
      p.warnings.push_back(fmt::format("data.seq_len {} exceeds the model's max_position_embeddings {} ({}): positions "
                                       "past it are beyond what it was trained on unless its RoPE scaling is made for them",
                                       r.data.seq_len, c.max_position_embeddings, p.model_path));
  }
  // model.path's own vocabulary: the weights as loaded unless a full fine-tune resumes (then the
  // checkpoint's may have grown).
  if (p.model_path == base && !p.created) p.original_vocab = p.model_vocab;
  else if (!r.model.init && fs::exists(fs::path(base) / "config.json"))
    p.original_vocab = model::HfConfig::from_file(base + "/config.json").vocab_size;
}

// Growing the embedding to the tokenizer, and training only the new rows.
void plan_vocabulary(RunPlan& p, const recipe::Recipe& r) {
  if (!p.tokenizer_here || !p.model_here || p.tokenizer_vocab <= p.model_vocab) {
  } else if (!p.adds_tokens) {
    fail("tokenizer {} has {} tokens but model {} has vocab_size {}: ids would index past the embedding (use the "
         "model's tokenizer, or add tokens with tokenizer.add_special_tokens / add_tokens to grow the model)",
         p.tokenizer_dir, p.tokenizer_vocab, r.model.path, p.model_vocab);
  } else if (r.parallel.tensor_parallel > 1) {
    fail("tokenizer {} has {} tokens, model {} has vocab_size {}: growing the vocabulary is not supported with "
         "parallel.tensor_parallel > 1 (grow it in a run without tensor parallelism first)",
         p.tokenizer_dir, p.tokenizer_vocab, r.model.path, p.model_vocab);
  } else {
    p.grow_vocab = true;
  }
  const int64_t trained_vocab = p.grow_vocab ? p.tokenizer_vocab : p.model_vocab;
  if (r.tokenizer.train_new_tokens_only && p.model_here && (p.original_vocab <= 0 || p.original_vocab >= trained_vocab))
    fail("tokenizer.train_new_tokens_only: no tokens were added beyond the vocabulary of {} ({} tokens)", r.model.path,
         trained_vocab);
}

// fsdp ZeRO-3 over a checkpoint: decoder layers are never loaded whole on one rank.
void plan_sharding(RunPlan& p, const recipe::Recipe& r) {
  p.zero3 = r.parallel.strategy == parallel::Strategy::Fsdp && r.parallel.zero_stage == 3;
  p.sharded_load = p.zero3 && !r.model.lora && !p.created;
  p.from_shards = p.resume && fs::is_directory(fs::path(*p.resume) / kModelShardsDir);
  if (p.from_shards && !p.sharded_load)
    fail("{} keeps the decoder layers as fsdp ZeRO-3 shards ({}/): resume it with parallel.strategy: fsdp and "
         "parallel.zero_stage: 3 (any number of ranks); the final HF export of that run is a whole model", *p.resume,
         kModelShardsDir);
  // The rest (embeddings, norms, heads) too, unless something reshapes it right after loading
  // (vocabulary growth, new-token-only training) or it is not in the files (a new head).
  p.rest_sharded = p.sharded_load && !r.tokenizer.train_new_tokens_only && !p.grow_vocab;
}

}  // namespace

RunPlan make_run_plan(const recipe::Recipe& r, const std::optional<std::string>& resume, bool cuda_available,
                      const tok::HfTokenizer* tokenizer) {
  RunPlan p;
  p.resume = resume;
  p.cuda = cuda_available && r.parallel.device != parallel::Device::Cpu;
  // auto: bf16 autocast on a GPU, fp32 on a CPU (where bf16 GEMMs are fast only with AVX512-BF16 /
  // AMX); bf16 asks for autocast on either. Mixed precision keeps fp32 master weights.
  p.autocast_bf16 = r.trainer.precision == Precision::Bf16 || (p.cuda && r.trainer.precision == Precision::Auto);
  p.dtype = p.autocast_bf16 && r.model.dtype == model::Dtype::Auto ? model::Dtype::Float32 : r.model.dtype;
  p.tokenizer_dir = tokenizer_dir(r);
  p.tokenizer_here = tokenizer != nullptr;
  p.tokenizer_vocab = tokenizer ? static_cast<int64_t>(tokenizer->tokenizer().vocab_size()) : 0;
  p.adds_tokens = !r.tokenizer.add_tokens.empty() || !r.tokenizer.add_special_tokens.empty() ||
                  !r.tokenizer.add_tokens_file.empty();
  plan_model(p, r);
  plan_vocabulary(p, r);
  plan_sharding(p, r);
  p.algorithm = recipe::enum_name(r.algorithm.name);
  p.rollout_ranks = algo::rollout_ranks(r.algorithm);
  return p;
}

}  // namespace pt::train
