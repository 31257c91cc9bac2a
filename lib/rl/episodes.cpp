#include "rl/episodes.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/error.h"
#include "core/log.h"
#include "data/encode.h"
#include "tokenizer/hf_tokenizer.h"

namespace pt::rl {

const std::vector<std::string>& stop_reasons() {
  static const std::vector<std::string> r{"done", "max_turns", "budget", "env_error"};
  return r;
}

std::vector<double> per_token_rewards(double total, const std::vector<std::pair<int64_t, double>>& turn_rewards,
                                      int64_t tokens) {
  std::vector<double> out(static_cast<size_t>(std::max<int64_t>(tokens, 0)), 0.0);
  if (out.empty()) return out;
  double rest = total;
  for (const auto& [at, r] : turn_rewards) {
    out[static_cast<size_t>(std::clamp<int64_t>(at, 0, tokens - 1))] += r;
    rest -= r;
  }
  out.back() += rest;
  return out;
}

double episode_return(const Episode& e, double scored) {
  return e.stop == "env_error" ? std::nan("") : e.env_reward + (std::isnan(scored) ? 0.0 : scored);
}

EpisodeTotals sum_episodes(const std::vector<Episode>& episodes, const std::vector<gen::Completion>& completions) {
  EpisodeTotals t;
  t.stops.assign(stop_reasons().size(), 0);
  for (size_t i = 0; i < episodes.size(); ++i) {
    const Episode& e = episodes[i];
    t.turns += completions[i].turns;
    t.tool_calls_ok += e.tool_calls_ok;
    t.tool_calls_failed += e.tool_calls_failed;
    t.length += static_cast<double>(completions[i].tokens.size());
    t.env_reward += e.env_reward;
    t.env_s += e.env_s;
    for (size_t k = 0; k < t.stops.size(); ++k) t.stops[k] += e.stop == stop_reasons()[k];
  }
  return t;
}

std::vector<int32_t> end_of_turn_ids(std::optional<int64_t> config_eos, const tok::HfTokenizer* tokenizer) {
  std::vector<int32_t> ids;
  if (tokenizer)
    if (auto e = tokenizer->eos_id()) ids.push_back(*e);
  if (config_eos && std::find(ids.begin(), ids.end(), static_cast<int32_t>(*config_eos)) == ids.end())
    ids.push_back(static_cast<int32_t>(*config_eos));
  return ids;
}

EpisodeStage::EpisodeStage(std::unique_ptr<env::Environment> environment, const algo::EnvironmentOptions& opts,
                           env::ConversationSpec spec)
    : env_(std::move(environment)), o_(opts), tok_(spec.tok), spec_(std::move(spec)) {
  if (!env_->single_turn()) {
    PT_CHECK(tok_, "environment {}: multi-turn episodes need the tokenizer", o_.name);
    // Once, before any episode: a template that rewrites earlier turns is refused here.
    env::check_append_only(spec_, env_->tools());
  }
}

std::vector<int32_t> EpisodeStage::open(const EpisodeSpec& spec) {
  Episode e;
  e.id = spec.id;
  e.where = spec.where;
  const auto& where = spec.where;
  const auto& record = spec.record;
  env::Opening op;
  try {
    op = env_->reset(spec.id, record, spec.seed);
  } catch (const std::exception& ex) {
    fail("environment {}: {}: reset failed: {}", o_.name, where, ex.what());
  }
  std::vector<int32_t> prompt = spec.data_prompt;
  if (!env_->single_turn()) {
    env::Messages messages = op.messages;
    if (messages.empty()) {  // the record's prompt, as the data pipeline rendered it
      const auto p = record.find("prompt");
      PT_CHECK(p != record.end() && (p->is_string() || p->is_array()),
               "environment {}: {}: the environment opens with the record's prompt, and the record has none", o_.name, where);
      messages = data::as_messages(env::Messages::parse(p->dump()), "user");
    }
    e.conversation = std::make_unique<env::Conversation>(spec_, std::move(messages), op.tools);
    prompt = e.conversation->prompt();
  }
  e.prompt = prompt;
  episodes_.push_back(std::move(e));
  return prompt;
}

gen::TurnHook EpisodeStage::hook() {
  if (env_->single_turn()) return {};  // one turn, no answer: the engine's plain path
  return [this](const std::vector<gen::TurnEnd>& ended, const std::vector<gen::Completion>& out) {
    // The turns that ended in this decoding step go to the environment together.
    std::vector<uint64_t> ids;
    std::vector<env::AssistantTurn> turns;
    for (const auto& t : ended) {
      ids.push_back(episodes_.at(t.request).id);
      turns.push_back(assistant_turn(episodes_.at(t.request), out[t.request], t.turn_start));
    }
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<env::StepOutcome> answers;
    try {
      answers = env_->step_batch(ids, turns);
      PT_CHECK(answers.size() == ids.size(), "it answered {} of {} turns", answers.size(), ids.size());
    } catch (const std::exception& ex) {  // the whole batch failed (a crashed or hung process)
      answers.assign(ids.size(), env::StepOutcome{{}, ex.what()});
    }
    const double each = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / ids.size();
    std::vector<std::optional<std::vector<int32_t>>> more;
    for (size_t i = 0; i < ended.size(); ++i) {
      Episode& e = episodes_.at(ended[i].request);
      e.env_s += each;
      more.push_back(after_turn(e, out[ended[i].request], turns[i], answers[i]));
    }
    return more;
  };
}

bool EpisodeStage::ended_on_token(const gen::Completion& c) const {
  return c.finish_reason == "stop" && !c.tokens.empty() &&
         std::find(spec_.end_of_turn.begin(), spec_.end_of_turn.end(), c.tokens.back()) != spec_.end_of_turn.end();
}

env::AssistantTurn EpisodeStage::assistant_turn(Episode& e, const gen::Completion& c, size_t turn_start) const {
  const auto from = c.tokens.begin() + static_cast<std::ptrdiff_t>(turn_start);
  const bool on_end = ended_on_token(c);
  env::AssistantTurn turn;
  turn.index = c.turns - 1;
  turn.truncated = c.finish_reason == "length";
  turn.text = tok_->tokenizer().decode({from, c.tokens.end()}, true);
  turn.text_raw = tok_->tokenizer().decode({from, on_end ? c.tokens.end() - 1 : c.tokens.end()}, false);
  e.last_text = turn.text;
  e.last_raw = turn.text_raw;
  return turn;
}

std::optional<std::vector<int32_t>> EpisodeStage::after_turn(Episode& e, const gen::Completion& c,
                                                             const env::AssistantTurn& turn, const env::StepOutcome& answer) {
  std::string error = answer.error;
  const env::Observation& obs = answer.obs;
  if (error.empty() && !obs.done && obs.messages.empty()) error = "it answered no messages and is not done";
  if (!error.empty()) {
    if (o_.on_error == algo::OnRewardError::Error)
      fail("environment {}: {}, turn {}: {} (on_error: skip drops such episodes)", o_.name, e.where, turn.index + 1, error);
    log::warn("environment {}: {}, turn {}: {}; the episode is dropped (on_error: skip)", o_.name, e.where, turn.index + 1,
              error);
    e.stop = "env_error";
    return std::nullopt;
  }
  e.env_reward += obs.reward;
  // The turn just sampled ends at the completion's last sampled token so far.
  if (obs.reward != 0) e.turn_rewards.emplace_back(gen::sampled_tokens(c) - 1, obs.reward);
  e.tool_calls_ok += obs.tool_calls_ok;
  e.tool_calls_failed += obs.tool_calls_failed;
  if (obs.done) {
    e.stop = "done";
    return std::nullopt;
  }
  if (c.turns >= o_.max_turns) {
    e.stop = "max_turns";
    return std::nullopt;
  }
  e.stop = "budget";  // unless the engine finds room for the answer and another turn
  return e.conversation->append(turn.text, ended_on_token(c), obs.messages, fmt::format("environment {}: {}", o_.name, e.where));
}

std::vector<Episode> EpisodeStage::finish(const std::vector<gen::Completion>& completions) {
  PT_CHECK(completions.size() == episodes_.size(), "episodes: {} completions for {} episodes", completions.size(),
           episodes_.size());
  for (size_t i = 0; i < episodes_.size(); ++i) {
    Episode& e = episodes_[i];
    const auto& c = completions[i];
    // (Multi-turn: each ended turn set the reason; "budget" stands when the engine found no room for
    // the answer and another turn.)
    if (env_->single_turn()) {
      e.stop = "done";
      e.last_text = c.text;
    }
    env_->close(e.id);
  }
  std::vector<Episode> out = std::move(episodes_);
  episodes_.clear();
  return out;
}

}  // namespace pt::rl
