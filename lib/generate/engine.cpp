#include "generate/engine.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"
#include "generate/decode_batch.h"
#include "model/autocast.h"
#include "model/kv_cache.h"
#include "model/tensor_parallel.h"

namespace pt::gen {

namespace {

// Generation runs in evaluation mode (no LoRA dropout) and leaves the model in the mode it found.
struct EvalMode {
  model::CausalLM& m;
  bool was_training;
  explicit EvalMode(model::CausalLM& model) : m(model), was_training(model.is_training()) { m.train(false); }
  ~EvalMode() { m.train(was_training); }
};

// Positions per cache slot: max_seq_len, or the longest prompt plus its budget (episode_budget).
int64_t context_length(const std::vector<Request>& requests, int64_t max_seq_len) {
  int64_t need = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    PT_CHECK(!requests[i].prompt.empty(), "generation: request {} has an empty prompt", i);
    const Completion& r = requests[i].resume;
    const bool top_ok = requests[i].params.logprobs_top_k == 0 ? r.top_logprobs.empty()
                                                                 : r.top_logprobs.size() == r.tokens.size();
    PT_CHECK(r.sampled.empty() && r.logprobs.size() == r.tokens.size() && top_ok &&
                 static_cast<int64_t>(r.tokens.size()) < requests[i].params.max_new_tokens,
             "generation: request {} resumes {} tokens ({} log-probs, {} top-log-prob lists, {} appended): a "
             "single-turn completion shorter than max_new_tokens {}, with one log-prob (and, with logprobs_top_k, "
             "one top list) per token, is expected", i, r.tokens.size(), r.logprobs.size(), r.top_logprobs.size(),
             r.sampled.size(), requests[i].params.max_new_tokens);
    need = std::max<int64_t>(need, static_cast<int64_t>(requests[i].prompt.size()) + episode_budget(requests[i]));
  }
  const int64_t max_len = max_seq_len > 0 ? max_seq_len : need;
  for (size_t i = 0; i < requests.size(); ++i)
    if (static_cast<int64_t>(requests[i].prompt.size()) >= max_len)
      fail("generation: request {} has a prompt of {} tokens, the context holds {} (max_seq_len)", i,
           requests[i].prompt.size(), max_len);
  return max_len;
}

std::unique_ptr<model::KvCache> make_cache(const model::CausalLM& model, int64_t slots, int64_t max_len,
                                           double max_cache_gb) {
  // Under tensor parallelism the cache holds this rank's key/value heads.
  model::HfConfig cfg = model.config();
  cfg.num_key_value_heads /= model.tp_group() ? model.tp_group()->size() : 1;
  const int64_t bytes = model::KvCache::bytes_needed(cfg, slots, max_len, model.dtype());
  if (max_cache_gb > 0 && bytes > max_cache_gb * 1e9)
    fail("generation: the KV cache for {} sequences of {} positions needs {:.2f} GB, more than max_cache_gb = {} "
         "(lower max_batch or the lengths, or raise the limit)", slots, max_len, bytes / 1e9, max_cache_gb);
  try {
    return std::make_unique<model::KvCache>(cfg, slots, max_len, model.dtype(), model.device());
  } catch (const c10::Error& e) {
    fail("generation: cannot allocate the KV cache ({} sequences x {} positions = {:.2f} GB) on {}: {}", slots, max_len,
         bytes / 1e9, model.device().str(), e.what_without_backtrace());
  }
}

}  // namespace

Engine::Engine(model::CausalLM& model, const tok::HfTokenizer* tokenizer, EngineOptions opts)
    : model_(model), tok_(tokenizer), opts_(opts) {
  PT_CHECK(opts_.max_batch > 0, "generation: max_batch must be > 0");
}

std::vector<Completion> Engine::generate(const std::vector<Request>& requests,
                                         const std::function<void(const Progress&)>& on_progress,
                                         const TurnHook& on_turn_end) {
  const auto t0 = std::chrono::steady_clock::now();
  const model::AutocastScope ac(model::bf16_autocast(model_.device()), opts_.autocast_bf16);
  std::vector<Completion> out(requests.size());
  for (size_t i = 0; i < requests.size(); ++i)
    if (!requests[i].resume.tokens.empty()) {
      out[i] = requests[i].resume;
      out[i].finish_reason.clear();
      out[i].text.clear();
    }
  stats_ = Progress{0, static_cast<int64_t>(requests.size()), 0, 0};
  if (requests.empty()) return out;
  const int64_t max_len = context_length(requests, opts_.max_seq_len);
  const int64_t slots = std::min<int64_t>(opts_.max_batch, static_cast<int64_t>(requests.size()));
  const auto cache = make_cache(model_, slots, max_len, opts_.max_cache_gb);
  at::NoGradGuard ng;
  EvalMode eval(model_);
  DecodeBatch batch(model_, tok_, requests, *cache, max_len, out, stats_, &on_turn_end, opts_.share_prefix);
  while (!batch.idle()) {
    const size_t running = batch.running();
    batch.admit();
    batch.decode(running);   // the running sequences first,
    batch.prefill(running);  // then the prompts admitted to the freed slots
    batch.retire();
    stats_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (on_progress) on_progress(stats_);
  }
  return out;
}

int64_t sampled_tokens(const Completion& c) {
  if (c.sampled.empty()) return static_cast<int64_t>(c.tokens.size());
  return static_cast<int64_t>(std::count(c.sampled.begin(), c.sampled.end(), uint8_t{1}));
}

std::vector<double> teacher_forced_logprobs(model::CausalLM& model, const std::vector<int32_t>& prompt,
                                            const std::vector<int32_t>& tokens) {
  at::NoGradGuard ng;
  std::vector<int64_t> doc(prompt.begin(), prompt.end());
  doc.insert(doc.end(), tokens.begin(), tokens.end());
  auto in = model::PackedInput::from_documents({doc}, model.device());
  at::Tensor logits = model.logits(in).to(at::kCPU).to(at::kDouble);
  at::Tensor lp = at::log_softmax(logits, 1);
  std::vector<double> out;
  for (size_t i = 0; i < tokens.size(); ++i)
    out.push_back(lp[static_cast<int64_t>(prompt.size() + i - 1)][tokens[i]].item<double>());
  return out;
}

}  // namespace pt::gen
