#pragma once
// Frozen companion models of an algorithm (a DPO or KL reference, a distillation teacher), and the
// choice between a frozen copy and the policy with its LoRA adapters switched off.
#include <memory>
#include <string>

#include "algo/options.h"
#include "model/causal_lm.h"

namespace pt::algo {

// A frozen copy of a model directory for scoring (no LoRA, no head or init options, no gradients,
// eval mode). With `same_shape`, refused when its architecture or vocabulary differs from
// `policy`'s. `role` names it in errors.
std::unique_ptr<model::CausalLM> load_frozen(const model::CausalLM& policy, const model::ModelOptions& policy_opts,
                                             const std::string& path, const std::string& role, bool same_shape);

// The reference mode a recipe asks for, resolved: auto = the adapters-off policy with LoRA (and no
// explicit reference_path), else a frozen copy. `adapters` without LoRA, or together with a
// reference_path it would ignore, is refused. `section` names the recipe section ("algorithm.dpo").
DpoReference resolve_reference(DpoReference requested, bool lora, const std::string& reference_path,
                               const std::string& section);

// Switches the policy's adapters off for a scope (a reference forward pass without a second copy).
struct AdaptersOff {
  model::CausalLM& m;
  explicit AdaptersOff(model::CausalLM& model) : m(model) { m.set_adapters_enabled(false); }
  ~AdaptersOff() { m.set_adapters_enabled(true); }
  AdaptersOff(const AdaptersOff&) = delete;
  AdaptersOff& operator=(const AdaptersOff&) = delete;
};

}  // namespace pt::algo
