// `posttrain run --dry-run`: resolve every stage that needs no data records or weights and say how
// it would be built, so a recipe's mistakes surface before a GPU allocation does.
#include <filesystem>


#include "env/conversation.h"
#include "model/hf_config.h"
#include "posttrain/build_config.h"
#include "recipe/recipe.h"
#include "registry/builtins.h"
#include "rl/episodes.h"
#include "rl/grpo.h"
#include "tokenizer/tokenizer.h"
#include "train/geometry.h"
#include "train/run.h"
#include "train/run_plan.h"

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

namespace {
// Multi-turn episodes need a chat template that only appends: refused here as the run would refuse it
// at start-up (env::check_append_only, with the environment's tools).
void check_episode_template(const recipe::Recipe& r, const RunPlan& p, const tok::HfTokenizer& tok) {
  if (r.algorithm.name != algo::Name::Grpo || r.algorithm.grpo.environment.name == "single_turn") return;
  env::ConversationSpec spec;
  spec.tok = &tok;
  spec.label = rl::chat_template_label(r);
  spec.keep_sampled = r.algorithm.grpo.environment.on_template_rewrite == algo::TemplateRewrite::KeepSampled;
  std::optional<int64_t> config_eos;
  if (p.model_here && !p.created)
    config_eos = model::HfConfig::from_file((fs::path(p.model_path) / "config.json").string()).eos_token_id;
  spec.end_of_turn = rl::end_of_turn_ids(config_eos, &tok);
  env::check_append_only(spec, registry::make_environment(r.algorithm.grpo.environment)->tools());
}

// What a GRPO step's rollouts are: one completion per sample, or episodes in an environment.
std::string episodes_line(const algo::GrpoOptions& g) {
  const auto& e = g.environment;
  if (e.name == "single_turn")
    return fmt::format("episodes   single_turn: {} completion(s) per prompt of up to {} tokens", g.group_size,
                       g.max_new_tokens);
  return fmt::format("episodes   {}{}: {} per prompt, up to {} turns of {} tokens, {} tokens per episode; on {}; the chat "
                     "template is checked to only append at start-up{}",
                     e.name, e.name == "command" ? " (" + e.command + ")" : std::string(), g.group_size, e.max_turns,
                     g.max_new_tokens, e.max_episode_tokens,
                     g.rollout_ranks > 0 ? fmt::format("{} rollout rank(s)", g.rollout_ranks) : std::string("the training ranks"),
                     e.on_template_rewrite == algo::TemplateRewrite::KeepSampled ? " (or keeps the sampled tokens)" : "");
}

// Where and with which weights rollouts are generated, and how the update corrects for them.
std::string rollouts_line(const algo::GrpoOptions& g) {
  const auto& c = g.rollout_correction;
  const std::string correction =
      c.mode == algo::CorrectionMode::None
          ? "no off-policy correction"
          : fmt::format("off-policy correction {} (weights in [{}, {}], the trainer's log-probs recomputed before "
                        "each update)", recipe::enum_name(c.mode), c.clip_min, c.clip_max);
  if (g.rollout_ranks == 0) return "rollouts   colocated on the training ranks, with the current weights; " + correction;
  if (g.max_staleness == 0)
    return fmt::format("rollouts   on {} rollout rank(s), synchronous (each batch with the current weights); {}",
                       g.rollout_ranks, correction);
  if (g.partial_rollouts) {
    return fmt::format("rollouts   on {} rollout rank(s), asynchronous with partial rollouts: batch n is sampled in "
                       "segments of {} tokens, one per step, the first with the weights of batch max(0, n - {}) and each "
                       "next one with the next weights (the one sent at step n - 1 runs to the end), up to {} batch(es) "
                       "in flight; {}",
                       g.rollout_ranks, g.partial_segment_tokens(), g.max_staleness, g.max_staleness, correction);
  }
  return fmt::format("rollouts   on {} rollout rank(s), asynchronous: batch n is sampled by the weights of batch "
                     "max(0, n - {}) while the trainers update, up to {} batch(es) in flight; {}",
                     g.rollout_ranks, g.max_staleness, g.max_staleness, correction);
}
}  // namespace

std::string plan(const recipe::LoadedRecipe& loaded) {
  registry::register_builtins();
  const auto& r = loaded.recipe;
  std::string out;
  auto line = [&](const std::string& s) { out += s + "\n"; };
  line(fmt::format("recipe     {} (hash {})", loaded.files.empty() ? "<tree>" : loaded.files.front(), loaded.hash));
  line(fmt::format("run dir    {}", r.run_dir()));

  if (r.parallel.device == parallel::Device::Cuda && !PT_HAVE_CUDA)
    fail("parallel.device is cuda but this binary was built without CUDA");
  // The same plan the run builds from (no checkpoint: a fresh start).
  const auto tokenizer = load_tokenizer(r, /*required=*/false);
  const RunPlan p = make_run_plan(r, std::nullopt, PT_HAVE_CUDA, tokenizer ? &*tokenizer : nullptr);
  if (tokenizer) check_episode_template(r, p, *tokenizer);
  line(fmt::format("device     {} (requested {}); {}", p.cuda ? "cuda (if a device is visible at run time)" : "cpu",
                   recipe::enum_name(r.parallel.device),
                   p.autocast_bf16 ? "bf16 autocast over fp32 weights" : "no autocast"));
  if (p.created) {
    const auto& i = *r.model.init;
    line(fmt::format("model      created from the recipe: {} vocab {}, hidden {}, {} layers, {} heads ({} kv), random init",
                     i.architecture, i.vocab_size, i.hidden_size, i.num_hidden_layers, i.num_attention_heads,
                     i.num_key_value_heads));
  } else if (p.model_here) {
    auto c = model::HfConfig::from_file((fs::path(p.model_path) / "config.json").string());
    registry::registries().architectures.get(c.architecture);  // unsupported architectures fail here
    line(fmt::format("model      {} from {}: hidden {}, layers {}, heads {}/{} kv, vocab {} (padded to a multiple of {})",
                     c.architecture, p.model_path, c.hidden_size, c.num_hidden_layers, c.num_attention_heads,
                     c.num_key_value_heads, c.vocab_size, r.model.vocab_pad_multiple));
  } else {
    line(fmt::format("model      {} (not present on this machine: weights are read at run time)", p.model_path));
  }
  line(fmt::format("           dtype {}, attention {}, activation checkpointing {}, {}", recipe::enum_name(p.dtype),
                   recipe::enum_name(r.model.attention), r.model.activation_checkpointing ? "on" : "off",
                   r.model.lora ? fmt::format("LoRA r={} alpha={} on {} modules", r.model.lora->rank,
                                              r.model.lora->alpha, r.model.lora->target_modules.size())
                                : std::string("full fine-tuning")));
  if (tokenizer) {
    line(fmt::format("tokenizer  {}: {} tokens ({} with added tokens)", tok::Tokenizer::resolve_path(p.tokenizer_dir),
                     tokenizer->tokenizer().vocab_size(false), p.tokenizer_vocab));
  } else if (p.tokenizer_dir.empty()) {
    line("tokenizer  none (pre-tokenized ids over the model's own vocabulary)");
  } else {
    line(fmt::format("tokenizer  {} (not present on this machine)", p.tokenizer_dir));
  }
  for (const auto& w : p.warnings) line("WARNING    " + w);
  if (p.grow_vocab)
    line(fmt::format("vocabulary grows from {} to {} tokens{}", p.model_vocab, p.tokenizer_vocab,
                     r.tokenizer.train_new_tokens_only ? " (only the new rows train)" : ""));
  if (p.zero3)
    line(fmt::format("sharding   fsdp ZeRO-3: {}", p.sharded_load ? (p.rest_sharded ? "each rank reads only its slices of every tensor"
                                                                                    : "each rank reads only its slices of the decoder layers")
                                                                  : "parameters sharded after loading"));
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
  if (r.algorithm.name == algo::Name::Grpo) {
    line(episodes_line(r.algorithm.grpo));
    line(rollouts_line(r.algorithm.grpo));
  }
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
