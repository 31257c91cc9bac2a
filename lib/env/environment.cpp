#include "env/environment.h"

namespace pt::env {

std::vector<StepOutcome> Environment::step_batch(const std::vector<uint64_t>& episodes,
                                                 const std::vector<AssistantTurn>& turns) {
  std::vector<StepOutcome> out(episodes.size());
  for (size_t i = 0; i < episodes.size(); ++i) {
    try {
      out[i].obs = step(episodes[i], turns[i]);
    } catch (const std::exception& e) {
      out[i].error = e.what();
    }
  }
  return out;
}

}  // namespace pt::env
