#include "rl/rewards.h"

#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/text.h"
#include "tokenizer/regex.h"

namespace pt::rl {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A reference answer from the record, as text ("" when absent).
std::string reference(const nlohmann::json& record, const std::string& field) {
  auto it = record.find(field);
  if (it == record.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

class ExactMatch : public RewardFunction {
 public:
  explicit ExactMatch(std::string field) : field_(std::move(field)) {}
  std::vector<double> score(const std::vector<RewardSample>& batch) override {
    std::vector<double> out;
    for (const auto& s : batch) {
      const std::string ref = trim(reference(s.record, field_));
      // The reference's final answer, found as the completion's is (a worked solution "... #### 42" is 42).
      out.push_back(ref.empty() ? kNaN : extract_answer(s.completion) == extract_answer(ref) ? 1.0 : 0.0);
    }
    return out;
  }

 private:
  std::string field_;
};

class Numeric : public RewardFunction {
 public:
  Numeric(std::string field, double tol) : field_(std::move(field)), tol_(tol) {}
  std::vector<double> score(const std::vector<RewardSample>& batch) override {
    std::vector<double> out;
    for (const auto& s : batch) {
      const double want = last_number(reference(s.record, field_));
      const double got = last_number(extract_answer(s.completion));
      if (std::isnan(want)) out.push_back(kNaN);
      else out.push_back(!std::isnan(got) && std::abs(got - want) <= tol_ * std::max(1.0, std::abs(want)) ? 1.0 : 0.0);
    }
    return out;
  }

 private:
  std::string field_;
  double tol_;
};

class RegexReward : public RewardFunction {
 public:
  explicit RegexReward(const std::string& pattern) : re_(pattern) {}
  std::vector<double> score(const std::vector<RewardSample>& batch) override {
    std::vector<double> out;
    for (const auto& s : batch) out.push_back(re_.find_all(s.completion).empty() ? 0.0 : 1.0);
    return out;
  }

 private:
  tok::Regex re_;
};

class LengthPenalty : public RewardFunction {
 public:
  LengthPenalty(int target, double scale) : target_(target), scale_(scale) {}
  std::vector<double> score(const std::vector<RewardSample>& batch) override {
    std::vector<double> out;
    for (const auto& s : batch)
      out.push_back(-std::min(1.0, std::max<double>(0, static_cast<double>(s.completion_tokens - target_)) / scale_));
    return out;
  }

 private:
  int target_;
  double scale_;
};

}  // namespace

std::string extract_answer(const std::string& completion) {
  std::string s = completion;
  if (auto t = s.rfind("</think>"); t != std::string::npos) s = s.substr(t + 8);
  if (auto h = s.rfind("####"); h != std::string::npos) return trim(s.substr(h + 4));
  if (auto b = s.rfind("\\boxed{"); b != std::string::npos) {
    int depth = 1;
    size_t i = b + 7;
    for (; i < s.size() && depth > 0; ++i) depth += s[i] == '{' ? 1 : s[i] == '}' ? -1 : 0;
    if (depth == 0) return trim(s.substr(b + 7, i - 1 - (b + 7)));
  }
  s = trim(s);
  if (auto nl = s.rfind('\n'); nl != std::string::npos) s = s.substr(nl + 1);
  return trim(s);
}

double last_number(const std::string& text) {
  static const tok::Regex number(R"(-?\d[\d,]*(?:\.\d+)?|-?\.\d+)");
  auto m = number.find_all(text);
  if (m.empty()) return kNaN;
  std::string s = text.substr(m.back().first, m.back().second - m.back().first);
  s.erase(std::remove(s.begin(), s.end(), ','), s.end());
  try {
    return std::stod(s);
  } catch (const std::exception&) {
    return kNaN;
  }
}

std::unique_ptr<RewardFunction> make_exact_match(const algo::RewardOptions& o) {
  return std::make_unique<ExactMatch>(o.answer_field);
}
std::unique_ptr<RewardFunction> make_numeric(const algo::RewardOptions& o) {
  return std::make_unique<Numeric>(o.answer_field, o.tolerance);
}
std::unique_ptr<RewardFunction> make_regex(const algo::RewardOptions& o) {
  if (o.pattern.empty()) fail("algorithm.grpo.rewards: reward 'regex' needs a pattern");
  return std::make_unique<RegexReward>(o.pattern);
}
std::unique_ptr<RewardFunction> make_length_penalty(const algo::RewardOptions& o) {
  return std::make_unique<LengthPenalty>(o.target_tokens, o.penalty_scale);
}

RewardSet::RewardSet(const std::vector<algo::RewardOptions>& opts, const RewardFactory& make) : opts_(opts) {
  for (const auto& o : opts_) {
    fns_.push_back(make(o));
    labels_.push_back(o.label.empty() ? o.name : o.label);
    weighted_ = weighted_ || o.weight != 0;
  }
}

RewardSet::Scores RewardSet::score(const std::vector<RewardSample>& batch) {
  Scores s;
  for (auto& f : fns_) {
    s.per_func.push_back(f->score(batch));
    PT_CHECK(s.per_func.back().size() == batch.size(), "reward returned {} scores for {} samples",
             s.per_func.back().size(), batch.size());
  }
  // As TRL: a weighted sum over the functions that scored the sample; NaN only if none did. A
  // weight-0 function (a monitor) does not count as scoring it, unless every weight is 0: a sample
  // only a monitor could score stays unscored rather than becoming a reward of 0.
  for (size_t i = 0; i < batch.size(); ++i) {
    double total = 0;
    bool any = false;
    for (size_t f = 0; f < fns_.size(); ++f)
      if (!std::isnan(s.per_func[f][i]) && (opts_[f].weight != 0 || !weighted_)) {
        total += opts_[f].weight * s.per_func[f][i];
        any = true;
      }
    s.total.push_back(any ? total : std::numeric_limits<double>::quiet_NaN());
  }
  return s;
}

std::pair<double, double> pairwise_agreement(const std::vector<double>& reward, const std::vector<double>& monitor,
                                             int group_size) {
  PT_CHECK(reward.size() == monitor.size() && group_size > 0, "pairwise_agreement: {} rewards, {} monitor scores",
           reward.size(), monitor.size());
  double agree = 0, pairs = 0;
  for (size_t g = 0; g + group_size <= reward.size(); g += group_size)
    for (size_t i = g; i < g + group_size; ++i)
      for (size_t j = i + 1; j < g + group_size; ++j) {
        const double m = monitor[i] - monitor[j], r = reward[i] - reward[j];
        if (std::isnan(m) || std::isnan(r) || m == 0) continue;
        pairs += 1;
        agree += r == 0 ? 0.5 : ((r > 0) == (m > 0) ? 1.0 : 0.0);
      }
  return {agree, pairs};
}

int64_t RewardSet::skipped() const {
  int64_t n = 0;
  for (const auto& f : fns_) n += f->skipped();
  return n;
}

}  // namespace pt::rl
