#include "eval/evaluate_task.h"

#include <cmath>
#include <fstream>

#include <fmt/format.h>

#include "core/error.h"
#include "generate/generate_cmd.h"
#include "model/causal_lm.h"
#include "registry/builtins.h"
#include "rl/rewards.h"
#include "tokenizer/hf_tokenizer.h"

namespace pt::eval {

double pass_at_k(int n, int c, int k) {
  PT_CHECK(k >= 1 && k <= n && c >= 0 && c <= n, "pass_at_k: n {} c {} k {}", n, c, k);
  if (n - c < k) return 1.0;
  // prod_{i = n - c + 1}^{n} (1 - k / i), the numerically stable form.
  double miss = 1.0;
  for (int i = n - c + 1; i <= n; ++i) miss *= 1.0 - static_cast<double>(k) / i;
  return 1.0 - miss;
}

Scored score_completions(const std::vector<algo::RewardOptions>& scorers, const std::vector<Item>& items,
                         const std::vector<gen::Completion>& completions, int per_item, const tok::HfTokenizer* tok) {
  PT_CHECK(completions.size() == items.size() * static_cast<size_t>(per_item), "{} completions for {} items x {}",
           completions.size(), items.size(), per_item);
  std::vector<rl::RewardSample> batch;
  for (size_t i = 0; i < completions.size(); ++i) {
    const auto& item = items[i / static_cast<size_t>(per_item)];
    const auto& c = completions[i];
    rl::RewardSample s;
    s.prompt = tok ? tok->tokenizer().decode(item.prompt, false) : std::string();
    s.completion = c.text;
    s.completion_raw = tok ? tok->tokenizer().decode(c.tokens, false) : c.text;
    s.record = item.record;
    s.completion_tokens = static_cast<int64_t>(c.tokens.size());
    s.truncated = c.finish_reason == "length";
    batch.push_back(std::move(s));
  }
  rl::RewardSet set(scorers, registry::make_reward);
  Scored out;
  out.labels = set.labels();
  out.scores = set.score(batch).per_func;
  return out;
}

TaskResult run_task(model::CausalLM& model, const tok::HfTokenizer& tok, const EvalTask& task,
                    const std::vector<Item>& items, int64_t max_batch) {
  std::vector<gen::Request> reqs;
  std::vector<int32_t> stops;
  if (auto e = tok.eos_id()) stops.push_back(*e);
  if (auto e = model.config().eos_token_id) stops.push_back(static_cast<int32_t>(*e));
  for (size_t i = 0; i < items.size(); ++i)
    for (int j = 0; j < task.samples; ++j) {
      gen::Request r{items[i].prompt, {}};
      r.params.temperature = task.temperature;
      r.params.top_p = task.top_p;
      r.params.top_k = task.top_k;
      r.params.max_new_tokens = task.max_new_tokens;
      r.params.stop_ids = stops;
      r.params.seed = static_cast<uint64_t>(task.seed) + i * static_cast<uint64_t>(task.samples) + j;
      reqs.push_back(std::move(r));
    }
  gen::EngineOptions eo;
  eo.max_batch = max_batch;
  gen::Engine engine(model, &tok, eo);
  const auto outs = engine.generate(reqs);
  const Scored sc = score_completions(task.scorers, items, outs, task.samples, &tok);

  TaskResult r;
  r.name = task.name;
  r.items = static_cast<int64_t>(items.size());
  r.samples = task.samples;
  for (size_t f = 0; f < sc.labels.size(); ++f) {
    double sum = 0, n = 0;
    for (double v : sc.scores[f])
      if (!std::isnan(v)) sum += v, ++n;
    r.means.emplace_back(sc.labels[f], n > 0 ? sum / n : std::nan(""));
  }
  for (int k : task.pass_k) {
    double sum = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      int correct = 0;
      for (int j = 0; j < task.samples; ++j) {
        const double v = sc.scores[0][i * task.samples + j];
        correct += !std::isnan(v) && v >= task.pass_threshold;
      }
      sum += pass_at_k(task.samples, correct, k);
    }
    r.pass_at_k.emplace_back(k, items.empty() ? 0.0 : sum / static_cast<double>(items.size()));
  }
  for (const auto& c : outs) {
    r.mean_tokens += static_cast<double>(c.tokens.size());
    r.truncated += c.finish_reason == "length";
  }
  if (!outs.empty()) r.mean_tokens /= static_cast<double>(outs.size()), r.truncated /= static_cast<double>(outs.size());
  r.completions = nlohmann::ordered_json::array();
  for (size_t i = 0; i < items.size(); ++i) {
    nlohmann::ordered_json item{{"where", items[i].where}, {"completions", nlohmann::ordered_json::array()}};
    for (int j = 0; j < task.samples; ++j) {
      const size_t k = i * task.samples + j;
      nlohmann::ordered_json scores = nlohmann::ordered_json::object();
      for (size_t f = 0; f < sc.labels.size(); ++f) {
        const double v = sc.scores[f][k];
        scores[sc.labels[f]] = std::isnan(v) ? nlohmann::ordered_json() : nlohmann::ordered_json(v);
      }
      item["completions"].push_back({{"text", outs[k].text}, {"tokens", outs[k].tokens.size()},
                                     {"finish_reason", outs[k].finish_reason}, {"scores", scores}});
    }
    r.completions.push_back(std::move(item));
  }
  return r;
}

std::vector<Item> read_items(const EvalTask& task, const tok::HfTokenizer& tok) {
  std::ifstream in(task.path);
  if (!in) fail("task '{}': cannot open {}", task.name, task.path);
  std::vector<Item> items;
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Item item;
    item.where = fmt::format("{}:{}", task.path, n);
    nlohmann::ordered_json rec;
    try {
      rec = nlohmann::ordered_json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      fail("{}: malformed JSON at byte {} of the line", item.where, e.byte);
    }
    item.prompt = gen::encode_prompt(rec, tok, item.where);
    if (item.prompt.empty()) fail("{}: the prompt encodes to no tokens", item.where);
    item.record = nlohmann::json::parse(rec.dump());
    items.push_back(std::move(item));
    if (task.max_items > 0 && static_cast<int>(items.size()) >= task.max_items) break;
  }
  if (items.empty()) fail("task '{}': {} holds no prompts", task.name, task.path);
  return items;
}


}  // namespace pt::eval
