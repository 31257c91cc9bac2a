#include "algo/reference.h"

#include <filesystem>

#include "core/error.h"
#include "gguf/import.h"

namespace pt::algo {
namespace fs = std::filesystem;

std::unique_ptr<model::CausalLM> load_frozen(const model::CausalLM& policy, const model::ModelOptions& policy_opts,
                                             const std::string& path, const std::string& role, bool same_shape) {
  model::ModelOptions o = policy_opts;
  o.path = gguf::model_dir(path);
  o.lora.reset();
  o.init.reset();
  o.head = {};
  o.activation_checkpointing = false;
  auto cfg = model::HfConfig::from_file((fs::path(o.path) / "config.json").string());
  const auto& pc = policy.config();
  if (same_shape && cfg.architecture != pc.architecture)
    fail("{} {} is a {} but the policy {} is a {}: a reference model must have the policy's architecture", role, path,
         cfg.architecture, policy_opts.path, pc.architecture);
  if (cfg.vocab_size != pc.vocab_size && same_shape)
    fail("{} {} has vocab_size {} but the policy has {}", role, path, cfg.vocab_size, pc.vocab_size);
  model::LoadContext ctx;
  ctx.tp = policy.tp_group();  // split like the policy: the losses combine both over the same group
  auto m = model::CausalLM::from_pretrained(o, policy.device(), ctx);
  for (auto& [n, p] : m->named_parameters(false)) p.requires_grad_(false);
  m->train(false);
  return m;
}

DpoReference resolve_reference(DpoReference requested, bool lora, const std::string& reference_path,
                               const std::string& section) {
  if (requested == DpoReference::Auto)
    return (lora && reference_path.empty()) ? DpoReference::Adapters : DpoReference::Model;
  if (requested == DpoReference::Adapters && !lora)
    fail("{}.reference: 'adapters' needs LoRA (model.lora), which this run does not use", section);
  if (requested == DpoReference::Adapters && !reference_path.empty())
    fail("{0}.reference_path is set but reference is 'adapters' (the reference is the policy without its adapters); "
         "use reference: model to load that directory",
         section);
  return requested;
}

}  // namespace pt::algo
