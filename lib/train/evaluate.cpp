#include "train/evaluate.h"

#include <cmath>

#include "algo/sft.h"
#include "core/log.h"
#include "data/loader.h"
#include <map>

namespace pt::train {

namespace {
std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}
// Reasoning templates (Qwen3) teach an empty think block before the answer; it is not the answer.
std::string answer_text(const std::string& s) {
  auto t = s.find("</think>");
  return trim(t == std::string::npos ? s : s.substr(t + 8));
}
}  // namespace

std::vector<GenerationExample> generation_examples(const data::DataSet& ds) {
  std::vector<GenerationExample> out;
  if (!ds.tokenizer()) return out;
  for (const auto& src : ds.eval_sources())
    for (uint32_t r : src.eval) {
      const std::string where = src.shards->where(r);
      std::optional<data::RecordEncoder::PromptAndAnswer> pa;
      try {
        pa = src.encoder->prompt_and_answer(src.shards->record(r), where);
      } catch (const std::exception&) {
        continue;  // a bad record: the eval stream reports and counts it
      }
      if (pa) out.push_back(GenerationExample{std::move(pa->prompt), std::move(pa->answer), where});
    }
  return out;
}

std::vector<std::vector<int32_t>> greedy_generate(model::CausalLM& model, const std::vector<std::vector<int32_t>>& prompts,
                                                  int max_new_tokens, const std::vector<int32_t>& stop_ids) {
  at::NoGradGuard ng;
  std::vector<std::vector<int32_t>> gen(prompts.size());
  std::vector<size_t> live(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) live[i] = i;
  at::Tensor head = model.lm_head_weight().narrow(0, 0, model.vocab_size());
  for (int t = 0; t < max_new_tokens && !live.empty(); ++t) {
    std::vector<std::vector<int64_t>> docs;
    for (size_t i : live) {
      std::vector<int64_t> d(prompts[i].begin(), prompts[i].end());
      d.insert(d.end(), gen[i].begin(), gen[i].end());
      docs.push_back(std::move(d));
    }
    auto in = model::PackedInput::from_documents(docs, model.device());
    at::Tensor hidden = model.hidden_states(in);
    at::Tensor last = in.cu_seqlens.narrow(0, 1, static_cast<int64_t>(docs.size())).to(at::kLong) - 1;
    at::Tensor next = at::matmul(hidden.index_select(0, last), head.t()).argmax(1).to(at::kCPU);
    std::vector<size_t> still;
    for (size_t k = 0; k < live.size(); ++k) {
      auto id = static_cast<int32_t>(next[static_cast<int64_t>(k)].item<int64_t>());
      if (std::find(stop_ids.begin(), stop_ids.end(), id) != stop_ids.end()) continue;
      gen[live[k]].push_back(id);
      still.push_back(live[k]);
    }
    live = std::move(still);
  }
  return gen;
}

Evaluator::Evaluator(const EvalOptions& opts, algo::Algorithm* algorithm, model::CausalLM* model,
                     const data::DataSet* data, int rows_per_batch, std::vector<int32_t> stop_ids)
    : opts_(opts), algorithm_(algorithm), model_(model), data_(data), rows_per_batch_(rows_per_batch),
      stop_ids_(std::move(stop_ids)) {
  enabled_ = data_->num_eval_records() > 0;
  if (enabled_ && opts_.generate) gen_ = generation_examples(*data_);
}

Scalars Evaluator::run() {
  at::NoGradGuard ng;
  model_->train(false);
  Scalars out;
  data::LoaderOptions lo;
  lo.rows_per_step = rows_per_batch_;
  lo.prefetch_steps = 0;
  lo.drop_last = false;
  data::Loader loader(*data_, data::DocStream::Split::Eval, lo);
  // Per metric: summed values and summed denominators over all eval batches.
  std::vector<std::string> names;
  std::map<std::string, std::pair<double, double>> acc;
  int64_t trained = 0, batches = 0;
  for (;;) {
    auto b = loader.next();
    if (!b || b->rows.empty()) break;
    algo::Prepared prep = algorithm_->prepare(*b, false);
    for (const auto& mb : prep.micro)
      for (auto& m : algorithm_->loss(mb, prep).metrics) {
        if (!acc.count(m.name)) names.push_back(m.name);
        auto& [sum, den] = acc[m.name];
        sum += m.sum.to(at::kDouble).item<double>();
        // One denominator per batch (the batch's global count), however many micro-batches share it.
        if (&mb == &prep.micro.front()) den += m.denominator;
      }
    trained += prep.global_trained;
    if (opts_.max_batches > 0 && ++batches >= opts_.max_batches) break;
  }
  for (const auto& n : names) {
    const auto& [sum, den] = acc[n];
    out.emplace_back("eval/" + n, den > 0 ? sum / den : 0.0);
    if (n == "loss" && algorithm_->loss_is_token_nll()) out.emplace_back("eval/perplexity", std::exp(sum / den));
  }
  if (trained > 0) out.emplace_back("eval/tokens", static_cast<double>(trained));
  if (opts_.generate && !gen_.empty()) {
    const auto* tok = data_->tokenizer();
    int correct = 0;
    const size_t group = 64;
    for (size_t b = 0; b < gen_.size(); b += group) {
      std::vector<std::vector<int32_t>> prompts;
      for (size_t i = b; i < std::min(gen_.size(), b + group); ++i) prompts.push_back(gen_[i].prompt);
      auto outs = greedy_generate(*model_, prompts, opts_.max_new_tokens, stop_ids_);
      for (size_t i = 0; i < outs.size(); ++i) {
        std::string text = tok->tokenizer().decode(outs[i], true);
        bool ok = answer_text(text) == trim(gen_[b + i].reference);
        correct += ok;
        if (b + i < 3) log::debug("eval sample {}: generated '{}' expected '{}'", gen_[b + i].where, text, gen_[b + i].reference);
      }
    }
    out.emplace_back("eval/accuracy", static_cast<double>(correct) / gen_.size());
  }
  model_->train(true);
  return out;
}

}  // namespace pt::train
