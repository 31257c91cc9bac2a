#include "train/evaluate.h"

#include <cmath>

#include "algo/sft.h"
#include "core/log.h"
#include "data/loader.h"
#include "train/batch.h"

namespace pt::train {
using nlohmann::ordered_json;

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
  const auto* tok = ds.tokenizer();
  if (!tok) return out;
  for (const auto& src : ds.eval_sources()) {
    const auto f = src.opts.format;
    if (f != data::Format::Chat && f != data::Format::PromptCompletion) continue;
    for (uint32_t r : src.eval) {
      ordered_json rec;
      try {
        rec = ordered_json::parse(src.shards->record(r));
      } catch (const std::exception&) {
        continue;  // counted as a bad record by the stream
      }
      GenerationExample ex;
      ex.where = src.shards->where(r);
      try {
        if (f == data::Format::Chat) {
          auto msgs = rec.value(src.encoder->field("messages"), ordered_json());
          if (!msgs.is_array() || msgs.size() < 2 || msgs.back().value("role", "") != "assistant" ||
              !msgs.back()["content"].is_string())
            continue;
          ex.reference = msgs.back()["content"].get<std::string>();
          msgs.erase(msgs.size() - 1);
          tok::ChatOptions chat;
          chat.add_generation_prompt = true;
          ex.prompt = tok->tokenizer().encode(tok->render_chat(msgs, chat).text, false).ids;
        } else {
          auto p = rec.value(src.encoder->field("prompt"), ordered_json());
          auto c = rec.value(src.encoder->field("completion"), ordered_json());
          if (!p.is_string() || !c.is_string()) continue;
          ex.reference = c.get<std::string>();
          ex.prompt = tok->tokenizer().encode(p.get<std::string>(), true).ids;
        }
      } catch (const std::exception&) {
        continue;
      }
      out.push_back(std::move(ex));
    }
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

Scalars evaluate(model::CausalLM& model, const data::DataSet& ds, const EvalOptions& opts, int rows_per_batch,
                 int64_t ce_chunk, const std::vector<GenerationExample>& gen, const std::vector<int32_t>& stop_ids) {
  at::NoGradGuard ng;
  model.train(false);
  Scalars out;
  data::LoaderOptions lo;
  lo.rows_per_step = rows_per_batch;
  lo.prefetch_steps = 0;
  data::Loader loader(ds, data::DocStream::Split::Eval, lo);
  double sum = 0;
  int64_t count = 0, batches = 0;
  for (;;) {
    auto b = loader.next();
    std::vector<data::Row> rows;
    if (b) rows = std::move(b->rows);
    if (rows.empty()) break;
    auto mb = make_micro_batch(rows, 0, rows.size(), model.device());
    sum += algo::labelled_cross_entropy(model, model.hidden_states(mb.input), mb.labels, ce_chunk).item<double>();
    count += mb.num_trained;
    if (opts.max_batches > 0 && ++batches >= opts.max_batches) break;
  }
  if (count > 0) {
    out.emplace_back("eval/loss", sum / count);
    out.emplace_back("eval/perplexity", std::exp(sum / count));
    out.emplace_back("eval/tokens", static_cast<double>(count));
  }
  if (opts.generate && !gen.empty()) {
    const auto* tok = ds.tokenizer();
    int correct = 0;
    const size_t group = 64;
    for (size_t b = 0; b < gen.size(); b += group) {
      std::vector<std::vector<int32_t>> prompts;
      for (size_t i = b; i < std::min(gen.size(), b + group); ++i) prompts.push_back(gen[i].prompt);
      auto outs = greedy_generate(model, prompts, opts.max_new_tokens, stop_ids);
      for (size_t i = 0; i < outs.size(); ++i) {
        std::string text = tok->tokenizer().decode(outs[i], true);
        bool ok = answer_text(text) == trim(gen[b + i].reference);
        correct += ok;
        if (b + i < 3) log::debug("eval sample {}: generated '{}' expected '{}'", gen[b + i].where, text, gen[b + i].reference);
      }
    }
    out.emplace_back("eval/accuracy", static_cast<double>(correct) / gen.size());
  }
  model.train(true);
  return out;
}

}  // namespace pt::train
