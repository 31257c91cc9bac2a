// The trivial environment: one completion per prompt, no answer, scored by the recipe's rewards —
// classic single-turn GRPO as the one-turn episode of the same path.
#include "env/environment.h"

namespace pt::env {

namespace {
class SingleTurn : public Environment {
 public:
  Opening reset(uint64_t, const nlohmann::json&, uint64_t) override { return {}; }
  Observation step(uint64_t, const AssistantTurn&) override {
    Observation o;
    o.done = true;
    return o;
  }
  bool single_turn() const override { return true; }
};
}  // namespace

std::unique_ptr<Environment> make_single_turn(const algo::EnvironmentOptions&) { return std::make_unique<SingleTurn>(); }

}  // namespace pt::env
