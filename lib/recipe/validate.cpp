// Cross-field rules that no single field's range can express. Each error names the keys involved
// and where they were set.
#include <set>

#include "recipe/recipe.h"
#include "train/geometry.h"

namespace pt::recipe {

namespace {
// `source` is the merged input tree, whose nodes remember the file:line that set them.
Location where(const Node& source, std::initializer_list<const char*> keys) {
  std::string path;
  const Node* n = &source;
  Location loc;
  for (const char* k : keys) {
    path = join_key(path, k);
    n = n && n->is_map() ? n->find(k) : nullptr;
    if (n) loc = n->loc;
  }
  loc.key = path;
  return loc;
}
}  // namespace

void validate(const Recipe& r, const Node& resolved) {
  const auto& d = r.data;
  if (r.model.path.empty() == !r.model.init.has_value())
    fail_at(where(resolved, {"model", "path"}),
            r.model.init ? "model.path and model.init both set: load a checkpoint or create a model, not both"
                         : "model.path is required (or model.init to create a model from the recipe)");
  const auto& t = r.trainer;
  if (d.sources.empty() && r.algorithm.name != algo::Name::Grpo)
    fail_at(where(resolved, {"data", "sources"}), "at least one training source is required");
  if (r.algorithm.name == algo::Name::Grpo && d.sources.empty())
    fail_at(where(resolved, {"data", "sources"}), "GRPO needs a prompts source");

  auto check_sources = [&](const std::vector<data::SourceOptions>& sources, const char* list) {
    std::set<std::string> names;
    for (size_t i = 0; i < sources.size(); ++i) {
      const auto& s = sources[i];
      std::string key = fmt::format("data.{}[{}]", list, i);
      if (!s.name.empty() && !names.insert(s.name).second)
        fail_at(Location{"", 0, 0, key + ".name"}, "duplicate source name '{}'", s.name);
      bool pref = s.format == data::Format::Preference;
      if (r.algorithm.name == algo::Name::Dpo && !pref)
        fail_at(Location{"", 0, 0, key + ".format"},
                "algorithm dpo needs preference data, but this source has format '{}'", enum_name(s.format));
      if (r.algorithm.name != algo::Name::Dpo && pref)
        fail_at(Location{"", 0, 0, key + ".format"},
                "preference data is only used by algorithm dpo (algorithm.name is '{}')",
                enum_name(r.algorithm.name));
      const bool cls = s.format == data::Format::Classification;
      if ((r.algorithm.name == algo::Name::Classify) != cls)
        fail_at(Location{"", 0, 0, key + ".format"},
                cls ? "classification data is only used by algorithm classify"
                    : "algorithm classify needs format 'classification' ({text, label} records)");
      if (r.algorithm.name == algo::Name::Grpo && s.format != data::Format::Prompts)
        fail_at(Location{"", 0, 0, key + ".format"}, "algorithm grpo needs format 'prompts'");
    }
  };
  check_sources(d.sources, "sources");
  check_sources(d.eval_sources, "eval_sources");

  const int dp = r.parallel.data_parallel;
  const auto g = train::batch_geometry(t, d.seq_len, dp);
  if (g.micro_tokens % d.seq_len != 0)
    fail_at(where(resolved, {"trainer", "micro_batch_tokens"}),
            "micro_batch_tokens ({}) must be a multiple of data.seq_len ({}): micro-batches are whole rows",
            g.micro_tokens, d.seq_len);
  if (t.global_batch_tokens % g.micro_tokens != 0)
    fail_at(where(resolved, {"trainer", "global_batch_tokens"}),
            "global_batch_tokens ({}) must be a multiple of micro_batch_tokens ({})", t.global_batch_tokens,
            g.micro_tokens);
  if (dp > 0 && g.micro_per_step % dp != 0)
    fail_at(where(resolved, {"trainer", "global_batch_tokens"}),
            "global_batch_tokens / micro_batch_tokens = {} micro-batches per step is not divisible by "
            "parallel.data_parallel = {}",
            g.micro_per_step, dp);
  if (r.schedule.warmup_steps > 0 && t.max_steps > 0 && r.schedule.warmup_steps > t.max_steps)
    fail_at(where(resolved, {"schedule", "warmup_steps"}), "warmup_steps ({}) exceeds trainer.max_steps ({})",
            r.schedule.warmup_steps, t.max_steps);
  if (r.optimizer.betas.size() != 2)
    fail_at(where(resolved, {"optimizer", "betas"}), "expected exactly two betas, got {}", r.optimizer.betas.size());
  if (r.optimizer.name != "adamw")
    fail_at(where(resolved, {"optimizer", "name"}), "unknown optimizer '{}': expected one of adamw",
            r.optimizer.name);
  if (r.parallel.tensor_parallel > 1 && r.model.lora)
    fail_at(where(resolved, {"parallel", "tensor_parallel"}), "LoRA with tensor_parallel > 1 is not supported");
  if (r.model.attention == model::AttentionBackend::Flash && r.parallel.device == parallel::Device::Cpu)
    fail_at(where(resolved, {"model", "attention"}), "attention 'flash' needs a CUDA device (parallel.device is cpu)");
  if (r.trainer.precision == train::Precision::Bf16 && r.parallel.device == parallel::Device::Cpu &&
      r.model.dtype == model::Dtype::Float32)
    fail_at(where(resolved, {"trainer", "precision"}), "bf16 autocast on CPU with float32 weights is not supported");
  if (r.algorithm.name == algo::Name::Grpo && r.algorithm.grpo.rewards.empty())
    fail_at(where(resolved, {"algorithm", "grpo", "rewards"}), "GRPO needs at least one reward");
  if (r.algorithm.name == algo::Name::Grpo && r.data.packing)
    fail_at(where(resolved, {"data", "packing"}),
            "GRPO reads one prompt per row: set data.packing: false (prompts per step = "
            "trainer.global_batch_tokens / data.seq_len)");
  if (r.algorithm.name == algo::Name::Grpo && r.algorithm.grpo.reference == algo::DpoReference::Cached)
    fail_at(where(resolved, {"algorithm", "grpo", "reference"}),
            "GRPO's reference scores fresh completions every step: 'cached' does not apply (use model or adapters)");
}

}  // namespace pt::recipe
