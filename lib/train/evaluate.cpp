#include "train/evaluate.h"

#include <cmath>
#include <map>

#include "algo/sft.h"
#include "core/error.h"
#include "core/log.h"
#include "core/text.h"
#include "data/loader.h"

namespace pt::train {

std::vector<eval::Item> generation_items(const data::DataSet& ds) {
  std::vector<eval::Item> out;
  if (!ds.tokenizer()) return out;
  for (const auto& src : ds.eval_sources())
    for (uint32_t r : src.eval) {
      std::string where;
      const std::string text = src.shards->record(r, &where);
      std::optional<data::RecordEncoder::PromptAndAnswer> pa;
      try {
        pa = src.encoder->prompt_and_answer(text, where);
      } catch (const std::exception&) {
        continue;  // a bad record: the eval stream reports and counts it
      }
      if (pa) out.push_back(eval::Item{std::move(pa->prompt), nlohmann::json{{"answer", std::move(pa->answer)}}, where});
    }
  return out;
}

Evaluator::Evaluator(const EvalOptions& opts, algo::Algorithm* algorithm, model::CausalLM* model,
                     const data::DataSet* data, int rows_per_batch)
    : opts_(opts), algorithm_(algorithm), model_(model), data_(data), rows_per_batch_(rows_per_batch) {
  if (data_->num_eval_records() > 0 && opts_.generate) gen_ = generation_items(*data_);
  generate_task_.name = "generate";
  generate_task_.max_new_tokens = opts_.max_new_tokens;
  algo::RewardOptions exact;
  exact.name = "exact_match";
  exact.answer_field = "answer";
  generate_task_.scorers = {exact};
  if (!opts_.tasks.empty()) {
    if (!data_->tokenizer()) fail("trainer.eval.tasks: the task prompts need a tokenizer (tokenizer.path)");
    tasks_ = eval::load_tasks(opts_.tasks);
    for (const auto& t : tasks_.tasks) task_items_.push_back(eval::read_items(t, *data_->tokenizer()));
  }
  enabled_ = data_->num_eval_records() > 0 || !tasks_.tasks.empty();
  const auto& srcs = data_->eval_sources();
  for (size_t s = 0; s < srcs.size(); ++s)
    if (!srcs[s].eval.empty()) per_source_.push_back(s);
  if (per_source_.size() < 2 && data_->options().eval_sources.empty()) per_source_.clear();
  if (!gen_.empty() || !tasks_.tasks.empty())
    log::info("evaluation generates: {} held-out prompts (eval.generate), {} task(s); engine batch {} "
              "(trainer.eval.max_batch)", gen_.size(), tasks_.tasks.size(), opts_.max_batch);
}

Scalars Evaluator::run_tasks() {
  Scalars out;
  for (size_t i = 0; i < tasks_.tasks.size(); ++i) {
    const auto& task = tasks_.tasks[i];
    const eval::TaskResult r = eval::run_task(*model_, *data_->tokenizer(), task, task_items_[i], opts_.max_batch);
    const std::string pre = "eval/" + task.name + "/";
    for (const auto& [k, v] : r.pass_at_k) out.emplace_back(pre + "pass@" + std::to_string(k), v);
    for (const auto& [name, v] : r.means) out.emplace_back(pre + name, v);
    out.emplace_back(pre + "tokens", r.mean_tokens);
  }
  return out;
}

// The algorithm's metrics over held-out records (one source's when only_source >= 0), as `prefix`NAME.
Scalars Evaluator::held_out(int only_source, const std::string& prefix) {
  Scalars out;
  data::LoaderOptions lo;
  lo.rows_per_step = rows_per_batch_;
  lo.prefetch_steps = 0;
  lo.drop_last = false;
  lo.only_source = only_source;
  data::Loader loader(*data_, data::DocStream::Split::Eval, lo);
  // Per metric: summed values and summed denominators over all eval batches.
  std::vector<std::string> names;
  std::map<std::string, std::pair<double, double>> acc;
  int64_t trained = 0, batches = 0;
  for (;;) {
    auto b = loader.next();
    if (!b || b->rows.empty()) break;
    algo::Prepared prep = algorithm_->prepare(*b, false);
    for (const auto& m : prep.metrics) {
      if (!acc.count(m.name)) names.push_back(m.name);
      auto& [sum, den] = acc[m.name];
      sum += m.sum.to(at::kDouble).item<double>();
      den += m.denominator;
    }
    for (size_t i = 0; i < prep.micro.size(); ++i)
      for (auto& m : algorithm_->loss(prep.micro[i], i, prep).metrics) {
        if (!acc.count(m.name)) names.push_back(m.name);
        auto& [sum, den] = acc[m.name];
        sum += m.sum.to(at::kDouble).item<double>();
        // One denominator per batch (the batch's global count), however many micro-batches share it.
        if (i == 0) den += m.denominator;
      }
    trained += prep.global_trained;
    if (opts_.max_batches > 0 && ++batches >= opts_.max_batches) break;
  }
  for (const auto& n : names) {
    const auto& [sum, den] = acc[n];
    out.emplace_back(prefix + n, den > 0 ? sum / den : 0.0);
    if (n == "loss" && algorithm_->loss_is_token_nll()) out.emplace_back(prefix + "perplexity", std::exp(sum / den));
  }
  if (trained > 0) out.emplace_back(prefix + "tokens", static_cast<double>(trained));
  return out;
}

Scalars Evaluator::run() {
  at::NoGradGuard ng;
  model_->train(false);
  Scalars out = held_out(-1, "eval/");
  // Per held-out source (eval/NAME/METRIC) when the held-out records come from several sources or
  // from data.eval_sources; one source's metrics are the whole split's (not computed twice).
  for (size_t k = 0; k < per_source_.size(); ++k) {
    const std::string prefix = "eval/" + data_->eval_sources()[per_source_[k]].opts.name + "/";
    if (per_source_.size() == 1) {
      for (size_t i = 0, n = out.size(); i < n; ++i) out.emplace_back(prefix + out[i].first.substr(5), out[i].second);
      continue;
    }
    for (auto& m : held_out(static_cast<int>(per_source_[k]), prefix)) out.push_back(std::move(m));
  }
  if (opts_.generate && !gen_.empty()) {
    // Greedy answers on the live weights, scored as `posttrain eval` would score this task.
    const eval::TaskResult r = eval::run_task(*model_, *data_->tokenizer(), generate_task_, gen_, opts_.max_batch);
    out.emplace_back("eval/accuracy", r.means.front().second);
    for (size_t i = 0; i < std::min<size_t>(3, r.completions.size()); ++i)
      log::debug("eval sample {}: {}", gen_[i].where, r.completions[i].dump());
  }
  for (auto& m : run_tasks()) out.push_back(std::move(m));
  model_->train(true);
  return out;
}

}  // namespace pt::train
