#include "eval/evaluate_task.h"

#include <cmath>
#include <fstream>

#include <fmt/format.h>

#include "core/error.h"
#include "generate/generate_cmd.h"
#include "model/causal_lm.h"
#include "registry/builtins.h"
#include "data/rng.h"
#include "rl/episodes.h"
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

namespace {

// What the scorers read of each completion: its text, or an episode's last turn.
std::vector<rl::RewardSample> reward_samples(const std::vector<Item>& items, const std::vector<gen::Completion>& completions,
                                             int per_item, const tok::HfTokenizer* tok, const std::vector<rl::Episode>& episodes) {
  PT_CHECK(completions.size() == items.size() * static_cast<size_t>(per_item), "{} completions for {} items x {}",
           completions.size(), items.size(), per_item);
  std::vector<rl::RewardSample> batch;
  for (size_t i = 0; i < completions.size(); ++i) {
    const auto& item = items[i / static_cast<size_t>(per_item)];
    const auto& c = completions[i];
    rl::RewardSample s;
    s.prompt = tok ? tok->tokenizer().decode(item.prompt, false) : std::string();
    s.completion = episodes.empty() ? c.text : episodes[i].last_text;
    s.completion_raw = !episodes.empty() ? episodes[i].last_raw : tok ? tok->tokenizer().decode(c.tokens, false) : c.text;
    s.record = item.record;
    s.completion_tokens = gen::sampled_tokens(c);
    s.truncated = c.finish_reason == "length";
    batch.push_back(std::move(s));
  }
  return batch;
}

// Each prompt's samples as episodes of the task's environment (null: single-turn completions).
std::unique_ptr<rl::EpisodeStage> episode_stage(const EvalTask& task, const std::vector<int32_t>& end_of_turn,
                                                const tok::HfTokenizer& tok, const std::string& template_label) {
  if (task.environment.name == "single_turn") return nullptr;
  env::ConversationSpec spec;
  spec.tok = &tok;
  spec.end_of_turn = end_of_turn;
  spec.label = template_label;
  spec.keep_sampled = task.environment.on_template_rewrite == algo::TemplateRewrite::KeepSampled;
  return std::make_unique<rl::EpisodeStage>(registry::make_environment(task.environment), task.environment, std::move(spec));
}

std::vector<gen::Request> requests(const EvalTask& task, const std::vector<Item>& items, const std::vector<int32_t>& stops,
                                   rl::EpisodeStage* stage) {
  std::vector<gen::Request> reqs;
  for (size_t i = 0; i < items.size(); ++i)
    for (int j = 0; j < task.samples; ++j) {
      gen::Request r{items[i].prompt, {}};
      r.params.temperature = task.temperature;
      r.params.top_p = task.top_p;
      r.params.top_k = task.top_k;
      r.params.max_new_tokens = task.max_new_tokens;
      r.params.stop_ids = stops;
      r.params.seed = static_cast<uint64_t>(task.seed) + i * static_cast<uint64_t>(task.samples) + j;
      if (stage) {
        rl::EpisodeSpec e;
        e.record = items[i].record;
        e.data_prompt = items[i].prompt;
        e.id = i * static_cast<uint64_t>(task.samples) + j;
        e.seed = data::hash3(r.params.seed, 0x656e76ULL, 0);  // the environment's, derived as training derives it
        e.where = fmt::format("episode {} ({}, sample {})", e.id, items[i].where, j);
        r.prompt = stage->open(e);
        r.max_episode_tokens = task.environment.max_episode_tokens;
      }
      reqs.push_back(std::move(r));
    }
  return reqs;
}

// Means over the episodes: environment reward, turns, tool calls, and the fraction stopped for each reason.
void episode_means(const std::vector<rl::Episode>& episodes, const std::vector<gen::Completion>& outs, TaskResult& r) {
  if (episodes.empty()) return;
  const double n = static_cast<double>(episodes.size());
  const rl::EpisodeTotals t = rl::sum_episodes(episodes, outs);
  r.means.emplace_back("environment", t.env_reward / n);
  r.means.emplace_back("episode/turns", t.turns / n);
  r.means.emplace_back("episode/tool_calls_ok", t.tool_calls_ok / n);
  r.means.emplace_back("episode/tool_calls_failed", t.tool_calls_failed / n);
  for (size_t k = 0; k < t.stops.size(); ++k) r.means.emplace_back("episode/stop_" + rl::stop_reasons()[k], t.stops[k] / n);
}

}  // namespace

Scored score_completions(const std::vector<algo::RewardOptions>& scorers, const std::vector<Item>& items,
                         const std::vector<gen::Completion>& completions, int per_item, const tok::HfTokenizer* tok,
                         const std::vector<rl::Episode>& episodes) {
  Scored out;
  if (!scorers.empty()) {
    rl::RewardSet set(scorers, registry::make_reward);
    out.labels = set.labels();
    const auto s = set.score(reward_samples(items, completions, per_item, tok, episodes));
    out.scores = s.per_func;
    out.total = s.total;
  }
  if (episodes.empty()) return out;
  // An episode's return, as GRPO's reward.
  std::vector<double> ret(episodes.size());
  for (size_t i = 0; i < episodes.size(); ++i)
    ret[i] = rl::episode_return(episodes[i], out.total.empty() ? std::nan("") : out.total[i]);
  out.labels.insert(out.labels.begin(), "return");
  out.scores.insert(out.scores.begin(), std::move(ret));
  return out;
}

TaskResult run_task(model::CausalLM& model, const tok::HfTokenizer& tok, const EvalTask& task,
                    const std::vector<Item>& items, int64_t max_batch, const std::string& template_label) {
  const std::vector<int32_t> stops = rl::end_of_turn_ids(model.config().eos_token_id, &tok);
  const auto stage = episode_stage(task, stops, tok, template_label);
  const auto reqs = requests(task, items, stops, stage.get());
  gen::EngineOptions eo;
  eo.max_batch = max_batch;
  gen::Engine engine(model, &tok, eo);
  const auto outs = engine.generate(reqs, {}, stage ? stage->hook() : gen::TurnHook{});
  const std::vector<rl::Episode> episodes = stage ? stage->finish(outs) : std::vector<rl::Episode>{};
  const Scored sc = score_completions(task.scorers, items, outs, task.samples, &tok, episodes);

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
  episode_means(episodes, outs, r);
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
      nlohmann::ordered_json c{{"text", outs[k].text}, {"tokens", outs[k].tokens.size()},
                               {"finish_reason", outs[k].finish_reason}, {"scores", scores}};
      if (!episodes.empty()) {
        // The whole episode as the policy saw it (environment answers included), and how it ended.
        c["text"] = tok.tokenizer().decode(outs[k].tokens, false);
        c["turns"] = outs[k].turns;
        c["stop"] = episodes[k].stop;
      }
      item["completions"].push_back(std::move(c));
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
