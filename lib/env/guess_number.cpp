// A multi-turn game with feedback: the environment holds a secret whole number in [low, high] (the
// record's `secret`, else drawn from the episode's seed) and answers each guess with "higher" or "lower"; solving it ends the episode
// with reward 1 - 0.1 x (turns used - 1) (at least 0.1), so fewer turns score more; not solving
// within max_turns scores 0.
#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include "core/error.h"
#include "env/environment.h"
#include "rl/rewards.h"

namespace pt::env {

namespace {

class GuessNumber : public Environment {
 public:
  explicit GuessNumber(const algo::EnvironmentOptions& o) : o_(o) {
    PT_CHECK(o.low <= o.high, "environment guess_number: low ({}) is above high ({})", o.low, o.high);
  }

  Opening reset(uint64_t episode, const nlohmann::json& record, uint64_t seed) override {
    const uint64_t span = static_cast<uint64_t>(static_cast<int64_t>(o_.high) - o_.low + 1);
    int64_t secret = o_.low + static_cast<int64_t>(seed % span);
    if (const auto s = record.find("secret"); s != record.end()) {
      // The record's secret: the samples of one prompt play the same game (a group-relative baseline).
      PT_CHECK(s->is_number_integer() && s->get<int64_t>() >= o_.low && s->get<int64_t>() <= o_.high,
               "environment guess_number: the record's secret {} is not a whole number from {} to {}", s->dump(),
               o_.low, o_.high);
      secret = s->get<int64_t>();
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      secrets_[episode] = secret;
    }
    Opening op;
    op.messages.push_back({{"role", "user"},
                           {"content", fmt::format("I am thinking of a whole number from {} to {}. Guess it: answer "
                                                   "with one number. After each guess I say higher or lower.",
                                                   o_.low, o_.high)}});
    return op;
  }

  Observation step(uint64_t episode, const AssistantTurn& turn) override {
    int64_t secret;
    {
      std::lock_guard<std::mutex> lock(mu_);
      secret = secrets_.at(episode);
    }
    Observation o;
    const double guess = rl::last_number(turn.text);
    std::string say;
    if (std::isnan(guess) || guess != std::round(guess)) {
      say = "Please answer with one whole number.";
    } else if (static_cast<int64_t>(guess) == secret) {
      o.done = true;
      o.reward = std::max(0.1, 1.0 - 0.1 * turn.index);
      return o;
    } else {
      say = static_cast<int64_t>(guess) < secret ? "Higher." : "Lower.";
    }
    o.messages.push_back({{"role", "user"}, {"content", say}});
    return o;
  }

  void close(uint64_t episode) override {
    std::lock_guard<std::mutex> lock(mu_);
    secrets_.erase(episode);
  }

 private:
  algo::EnvironmentOptions o_;
  std::mutex mu_;
  std::map<uint64_t, int64_t> secrets_;
};

}  // namespace

std::unique_ptr<Environment> make_guess_number(const algo::EnvironmentOptions& o) { return std::make_unique<GuessNumber>(o); }

}  // namespace pt::env
