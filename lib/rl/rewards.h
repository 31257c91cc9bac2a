#pragma once
// Reward functions of on-policy RL: each scores a batch of completions (with their prompt and the
// prompt's record, which carries the reference answer). NaN = unscorable: the completion is left
// out of its group's statistics and gets no advantage. Registered by name (posttrain list reward)
// and weighted and summed as the recipe says.
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "algo/options.h"

namespace pt::rl {

struct RewardSample {
  std::string prompt;
  std::string completion;
  std::string completion_raw;  // with the special tokens it sampled (the end-of-turn token): a reward model's view
  nlohmann::json record;      // the prompt's record (reference answer and any other fields)
  int64_t completion_tokens = 0;
  bool truncated = false;     // stopped by the length limit
};

class RewardFunction {
 public:
  virtual ~RewardFunction() = default;
  virtual std::vector<double> score(const std::vector<RewardSample>& batch) = 0;
  // Batches scored as unscorable after an error under on_error: skip.
  virtual int64_t skipped() const { return 0; }
};

using RewardFactory = std::function<std::unique_ptr<RewardFunction>(const algo::RewardOptions&)>;

// The final answer of a completion: the text after the last "####", else the last \boxed{...},
// else the last non-empty line (a think block, if any, removed first); trimmed.
std::string extract_answer(const std::string& completion);
// The last number in a text ("1,234.5" -> 1234.5), or NaN.
double last_number(const std::string& text);

std::unique_ptr<RewardFunction> make_exact_match(const algo::RewardOptions& o);
std::unique_ptr<RewardFunction> make_numeric(const algo::RewardOptions& o);
std::unique_ptr<RewardFunction> make_regex(const algo::RewardOptions& o);
std::unique_ptr<RewardFunction> make_length_penalty(const algo::RewardOptions& o);
std::unique_ptr<RewardFunction> make_command(const algo::RewardOptions& o);
std::unique_ptr<RewardFunction> make_reward_model(const algo::RewardOptions& o);

// How often `reward` orders two completions of one prompt as `monitor` does, over the pairs of each
// group of `group_size` consecutive completions that the monitor tells apart (a tie in `reward`
// counts one half; a NaN on either side leaves the pair out): {agreeing, pairs}. With a learned
// reward trained on and a weight-0 ground-truth reward beside it, this is proxy-gold agreement on
// the policy's own samples: when it falls while the reward rises, the policy is exploiting the proxy.
std::pair<double, double> pairwise_agreement(const std::vector<double>& reward, const std::vector<double>& monitor,
                                             int group_size);

// The weighted sum of the recipe's rewards, with each function's scores kept for metrics.
class RewardSet {
 public:
  // make: builds each function from its options (the registry's by name: registry::make_reward;
  // handed in by the caller so the reward layer does not depend on the registry).
  RewardSet(const std::vector<algo::RewardOptions>& opts, const RewardFactory& make);
  struct Scores {
    std::vector<double> total;                   // per sample: sum of weight x score (NaN if any is NaN)
    std::vector<std::vector<double>> per_func;   // [function][sample]
  };
  Scores score(const std::vector<RewardSample>& batch);
  const std::vector<std::string>& labels() const { return labels_; }
  const std::vector<algo::RewardOptions>& options() const { return opts_; }
  // Some function has a weight other than 0 (the rest, if any, are monitors).
  bool weighted() const { return weighted_; }
  int64_t skipped() const;

 private:
  std::vector<algo::RewardOptions> opts_;
  std::vector<std::string> labels_;
  std::vector<std::unique_ptr<RewardFunction>> fns_;
  bool weighted_ = false;
};

}  // namespace pt::rl
