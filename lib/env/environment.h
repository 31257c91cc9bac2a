#pragma once
// Environments of RL episodes: the policy acts (an assistant turn), the environment answers
// (observation messages, role tool or user), a reward arrives per turn, until the environment says
// done. One object serves every concurrent episode of a run, told apart by episode id; an episode's
// randomness comes from the seed reset() receives (derived from the run seed, step, prompt and
// sample), so a resumed run replays the same episodes.
//
// The controller (lib/rl) drives them through the generation engine's turn hook; the conversation's
// tokens are kept by env::Conversation (append-only, sampled tokens never re-tokenized).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "algo/options.h"

namespace pt::env {

using Messages = nlohmann::ordered_json;  // a list of {role, content, ...} (key order kept for templates)

struct Opening {
  // The episode's opening messages; empty = the record's prompt (as the data pipeline rendered it).
  Messages messages = Messages::array();
  // Tool schemas ({"type": "function", "function": {name, description, parameters}}) rendered through
  // the chat template's `tools`; null = none.
  Messages tools;
};

struct AssistantTurn {
  std::string text;      // decoded without special tokens (what a reader of the turn sees)
  std::string text_raw;  // decoded with them, less the end-of-turn token (tool-call markers are special tokens)
  int index = 0;        // 0 = the episode's first turn
  bool truncated = false;  // cut by max_new_tokens
};

struct Observation {
  Messages messages = Messages::array();  // the environment's answer (empty when done)
  double reward = 0;                      // added to the episode's return
  bool done = false;
  int tool_calls_ok = 0, tool_calls_failed = 0;
};

// One episode's answer to a turn within a batch: the observation, or why this episode failed.
struct StepOutcome {
  Observation obs;
  std::string error;  // non-empty: the environment failed on this episode
};

class Environment {
 public:
  virtual ~Environment() = default;
  virtual Opening reset(uint64_t episode, const nlohmann::json& record, uint64_t seed) = 0;
  virtual Observation step(uint64_t episode, const AssistantTurn& turn) = 0;
  // The turns that ended in one decoding step, answered together (an external process gets them in
  // one exchange instead of one round trip each). Default: step() for each, failures kept per episode.
  virtual std::vector<StepOutcome> step_batch(const std::vector<uint64_t>& episodes,
                                              const std::vector<AssistantTurn>& turns);
  // The episode is over (done, out of turns or budget): its state may go.
  virtual void close(uint64_t episode) { (void)episode; }
  // The tools every episode is offered (null = none): what the start-up template check renders.
  virtual Messages tools() const { return Messages(); }
  // True when every episode ends after its first turn without the environment answering (single_turn).
  virtual bool single_turn() const { return false; }
};

using EnvironmentFactory = std::function<std::unique_ptr<Environment>(const algo::EnvironmentOptions&)>;

// Built-ins (registered in lib/registry/builtins.cpp).
std::unique_ptr<Environment> make_single_turn(const algo::EnvironmentOptions& o);
std::unique_ptr<Environment> make_calculator(const algo::EnvironmentOptions& o);
std::unique_ptr<Environment> make_guess_number(const algo::EnvironmentOptions& o);
std::unique_ptr<Environment> make_tool_use(const algo::EnvironmentOptions& o);
std::unique_ptr<Environment> make_command(const algo::EnvironmentOptions& o);

}  // namespace pt::env
