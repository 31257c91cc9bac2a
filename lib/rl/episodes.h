#pragma once
// The controller's episode stage: opens each rollout as an episode of the recipe's environment, and
// is the generation engine's turn hook — an ended turn goes to the environment, whose answer (the
// token delta of the conversation, env::Conversation) is appended to the sequence for the policy's
// next turn, until the environment is done, max_turns or the token budget is reached, or it fails.
// Each episode's return, turns, tool calls, environment time and stop reason are kept for the
// reward and metrics stages.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "algo/options.h"
#include "env/conversation.h"
#include "env/environment.h"
#include "generate/engine.h"

namespace pt::rl {

// What opens an episode: the prompt's record and data tokens, and the episode's id and seed.
struct EpisodeSpec {
  nlohmann::json record;
  std::vector<int32_t> data_prompt;  // the data pipeline's rendering of the record's prompt
  uint64_t id = 0;                   // tells concurrent episodes apart (the environment's key)
  uint64_t seed = 0;                 // the episode's randomness
  std::string where;                 // "episode <id> (step <s>, prompt <i>, sample <g>)": how errors name it
};

struct Episode {
  uint64_t id = 0;
  std::string where;
  std::vector<int32_t> prompt;  // the tokens the episode opened with
  double env_reward = 0;
  // Each environment reward with the turn it answered: (index of the turn's last sampled token among
  // the episode's sampled tokens, reward). They sum to env_reward.
  std::vector<std::pair<int64_t, double>> turn_rewards;
  int tool_calls_ok = 0, tool_calls_failed = 0;
  double env_s = 0;
  std::string stop;  // done, max_turns, budget, env_error
  std::string last_text, last_raw;  // the last assistant turn (what the reward functions score)
  std::unique_ptr<env::Conversation> conversation;
};

// Per-token rewards of an episode's `tokens` sampled tokens for the token-level estimators (GAE,
// REINFORCE++): each environment reward at the last token of the turn it answered, and the rest of
// `total` (the reward functions' score, penalties) at the last token. Sums to `total`.
std::vector<double> per_token_rewards(double total, const std::vector<std::pair<int64_t, double>>& turn_rewards,
                                      int64_t tokens);

// Stop reasons in the order metrics list them.
const std::vector<std::string>& stop_reasons();

// An episode's return, GRPO's reward: the environment's rewards plus `scored` (the reward functions'
// weighted sum; NaN when none scored, then 0); NaN for an episode the environment failed on.
double episode_return(const Episode& e, double scored);

// Sums over a batch of episodes and their completions (the metrics of the training run and of
// `posttrain eval` alike): turns, tool calls, tokens, environment reward and time, and per stop
// reason (stop_reasons() order) how many stopped so.
struct EpisodeTotals {
  double turns = 0, tool_calls_ok = 0, tool_calls_failed = 0, length = 0, env_reward = 0, env_s = 0;
  std::vector<double> stops;
};
EpisodeTotals sum_episodes(const std::vector<Episode>& episodes, const std::vector<gen::Completion>& completions);

// The tokens that end a turn: the tokenizer's EOS and the model config's eos_token_id, once each.
std::vector<int32_t> end_of_turn_ids(std::optional<int64_t> config_eos, const tok::HfTokenizer* tokenizer);

class EpisodeStage {
 public:
  // spec: the tokenizer, chat options and end-of-turn ids the conversations are rendered with. A
  // multi-turn environment's template is checked to be append-only here (env::check_append_only).
  EpisodeStage(std::unique_ptr<env::Environment> environment, const algo::EnvironmentOptions& opts,
               env::ConversationSpec spec);
  bool single_turn() const { return env_->single_turn(); }
  // Starts the episodes of one rollout batch (one per request, in request order): their prompts,
  // the data's own (with its record's `prompt` messages for a multi-turn environment) unless the
  // environment opens with messages or tools.
  std::vector<int32_t> open(const EpisodeSpec& spec);
  // The engine's turn hook over the episodes opened since the last finish().
  gen::TurnHook hook();
  // After generation: the final stop reasons; the environment's episodes are closed.
  std::vector<Episode> finish(const std::vector<gen::Completion>& completions);

 private:
  // The turn ended on an end-of-turn token (not cut by a length limit).
  bool ended_on_token(const gen::Completion& c) const;
  // A turn that just ended, as the environment reads it (the episode keeps it as its last turn).
  env::AssistantTurn assistant_turn(Episode& e, const gen::Completion& c, size_t turn_start) const;
  // The environment's answer applied: the tokens to append, or none when the episode ends here.
  std::optional<std::vector<int32_t>> after_turn(Episode& e, const gen::Completion& c, const env::AssistantTurn& turn,
                                                 const env::StepOutcome& answer);
  std::unique_ptr<env::Environment> env_;
  algo::EnvironmentOptions o_;
  const tok::HfTokenizer* tok_;
  env::ConversationSpec spec_;
  std::vector<Episode> episodes_;
};

}  // namespace pt::rl
