// `posttrain run --dry-run`: resolve every stage that needs no data records or weights and say how
// it would be built, so a recipe's mistakes surface before a GPU allocation does.
#include <filesystem>


#include "model/hf_config.h"
#include "posttrain/build_config.h"
#include "recipe/recipe.h"
#include "registry/builtins.h"
#include "tokenizer/tokenizer.h"
#include "train/geometry.h"
#include "train/run.h"

namespace fs = std::filesystem;

namespace pt::train {

namespace {

size_t count_matches(const std::string& pattern) {
  fs::path p(pattern);
  if (fs::is_regular_file(p)) return 1;
  if (fs::is_directory(p)) {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(p))
      if (e.is_regular_file()) ++n;
    return n;
  }
  // A glob: only the file-name component may contain wildcards.
  fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  std::string pat = p.filename().string();
  if (!fs::is_directory(dir)) return 0;
  size_t n = 0;
  auto match = [](const char* s, const char* g, auto& self) -> bool {
    if (*g == 0) return *s == 0;
    if (*g == '*') return self(s, g + 1, self) || (*s && self(s + 1, g, self));
    if (*s && (*g == '?' || *g == *s)) return self(s + 1, g + 1, self);
    return false;
  };
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && match(e.path().filename().c_str(), pat.c_str(), match)) ++n;
  return n;
}

}  // namespace

std::string plan(const recipe::LoadedRecipe& loaded) {
  registry::register_builtins();
  const auto& r = loaded.recipe;
  std::string out;
  auto line = [&](const std::string& s) { out += s + "\n"; };
  line(fmt::format("recipe     {} (hash {})", loaded.files.empty() ? "<tree>" : loaded.files.front(), loaded.hash));
  line(fmt::format("run dir    {}", r.run_dir()));

  bool cuda = PT_HAVE_CUDA && r.parallel.device != parallel::Device::Cpu;
  if (r.parallel.device == parallel::Device::Cuda && !PT_HAVE_CUDA)
    fail("parallel.device is cuda but this binary was built without CUDA");
  line(fmt::format("device     {} (requested {})", cuda ? "cuda (if a device is visible at run time)" : "cpu",
                   recipe::enum_name(r.parallel.device)));

  std::string tok_path = r.tokenizer.path.empty() ? r.model.path : r.tokenizer.path;
  int64_t model_vocab = 0;
  if (r.model.init) {
    const auto& i = *r.model.init;
    line(fmt::format("model      created from the recipe: {} vocab {}, hidden {}, {} layers, {} heads ({} kv), random init",
                     i.architecture, i.vocab_size, i.hidden_size, i.num_hidden_layers, i.num_attention_heads,
                     i.num_key_value_heads));
  } else if (fs::exists(r.model.path)) {
    auto c = model::HfConfig::from_file((fs::path(r.model.path) / "config.json").string());
    registry::registries().architectures.get(c.architecture);  // unsupported architectures fail here
    model_vocab = c.vocab_size;
    line(fmt::format("model      {} from {}: hidden {}, layers {}, heads {}/{} kv, vocab {} (padded to a multiple of {})",
                     c.architecture, r.model.path, c.hidden_size, c.num_hidden_layers, c.num_attention_heads,
                     c.num_key_value_heads, c.vocab_size, r.model.vocab_pad_multiple));
    if (c.max_position_embeddings > 0 && r.data.seq_len > c.max_position_embeddings)
      fail_at(Location{"", 0, 0, "data.seq_len"}, "seq_len {} exceeds the model's max_position_embeddings {} ({})",
              r.data.seq_len, c.max_position_embeddings, r.model.path);
  } else {
    line(fmt::format("model      {} (not present on this machine: weights are read at run time)", r.model.path));
  }
  line(fmt::format("           dtype {}, attention {}, activation checkpointing {}, {}",
                   recipe::enum_name(r.model.dtype), recipe::enum_name(r.model.attention),
                   r.model.activation_checkpointing ? "on" : "off",
                   r.model.lora ? fmt::format("LoRA r={} alpha={} on {} modules", r.model.lora->rank,
                                              r.model.lora->alpha, r.model.lora->target_modules.size())
                                : std::string("full fine-tuning")));
  if (fs::exists(fs::path(tok_path) / "tokenizer.json") || fs::exists(fs::path(tok_path) / "tokenizer.json.zst")) {
    auto tok = tok::Tokenizer::from_path(tok_path);
    line(fmt::format("tokenizer  {}: {} tokens ({} with added tokens)", tok::Tokenizer::resolve_path(tok_path),
                     tok.vocab_size(false), tok.vocab_size(true)));
    if (model_vocab > 0 && static_cast<int64_t>(tok.vocab_size(true)) > model_vocab)
      line(fmt::format("WARNING    the tokenizer has {} tokens but the model's vocabulary is {}: ids >= {} cannot be "
                       "embedded (resize the embedding or use a matching tokenizer)",
                       tok.vocab_size(true), model_vocab, model_vocab));
  } else if (tok_path.empty()) {
    line("tokenizer  none (pre-tokenized ids over the model's own vocabulary)");
  } else {
    line(fmt::format("tokenizer  {} (tokenizer.json not present on this machine)", tok_path));
  }
  for (const auto& s : r.data.sources)
    line(fmt::format("data       {} [{}] weight {} epochs {} ({} file(s) match)", s.path, recipe::enum_name(s.format),
                     s.weight, s.epochs, count_matches(s.path)));
  for (const auto& s : r.data.eval_sources)
    line(fmt::format("eval data  {} [{}] ({} file(s) match)", s.path, recipe::enum_name(s.format), count_matches(s.path)));

  const auto g = batch_geometry(r.trainer, r.data.seq_len, r.parallel.data_parallel);
  line(fmt::format("batch      {} tokens/step = {} rank(s) x {} micro-batch(es) x {} rows x {} tokens ({})",
                   r.trainer.global_batch_tokens, g.dp, g.micro_per_rank, g.rows_per_micro, r.data.seq_len,
                   r.data.packing ? "packed" : "padded"));
  line(fmt::format("algorithm  {}", recipe::enum_name(r.algorithm.name)));
  line(fmt::format("optimizer  {} lr {} wd {} betas [{}, {}]; schedule {} warmup {}", r.optimizer.name, r.optimizer.lr,
                   r.optimizer.weight_decay, r.optimizer.betas.at(0), r.optimizer.betas.at(1),
                   recipe::enum_name(r.schedule.name), r.schedule.warmup_steps));
  line(fmt::format("trainer    {}; checkpoint every {} keep {}",
                   r.trainer.max_steps ? fmt::format("{} steps", r.trainer.max_steps)
                                       : fmt::format("{} epoch(s)", r.trainer.epochs),
                   r.checkpoint.every, r.checkpoint.keep_last));
  return out;
}

}  // namespace pt::train
