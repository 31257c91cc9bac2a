#include "generate/engine.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <deque>

#include "core/error.h"
#include "model/autocast.h"
#include "model/kv_cache.h"
#include "model/tensor_parallel.h"
#include "tokenizer/hf_tokenizer.h"

namespace pt::gen {

namespace {

struct Live {
  size_t request = 0;
  int64_t slot = 0;
  int64_t cached = 0;  // tokens of this sequence already in the cache
  int32_t next = 0;    // the last sampled token, not yet in the cache
  at::Generator gen;
};

// Restores the model's training mode (LoRA dropout) when generation ends.
struct EvalMode {
  model::CausalLM& m;
  explicit EvalMode(model::CausalLM& model) : m(model) { m.train(false); }
  ~EvalMode() { m.train(true); }
};

}  // namespace

Engine::Engine(model::CausalLM& model, const tok::HfTokenizer* tokenizer, EngineOptions opts)
    : model_(model), tok_(tokenizer), opts_(opts) {
  PT_CHECK(opts_.max_batch > 0, "generation: max_batch must be > 0");
}

std::vector<Completion> Engine::generate(const std::vector<Request>& requests,
                                         const std::function<void(const Progress&)>& on_progress) {
  const auto t0 = std::chrono::steady_clock::now();
  const model::AutocastScope ac(model::bf16_autocast(model_.device()), opts_.autocast_bf16);
  std::vector<Completion> out(requests.size());
  stats_ = Progress{0, static_cast<int64_t>(requests.size()), 0, 0};
  if (requests.empty()) return out;
  int64_t need = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    PT_CHECK(!requests[i].prompt.empty(), "generation: request {} has an empty prompt", i);
    need = std::max<int64_t>(need, static_cast<int64_t>(requests[i].prompt.size()) + requests[i].params.max_new_tokens);
  }
  const int64_t max_len = opts_.max_seq_len > 0 ? opts_.max_seq_len : need;
  for (size_t i = 0; i < requests.size(); ++i)
    if (static_cast<int64_t>(requests[i].prompt.size()) >= max_len)
      fail("generation: request {} has a prompt of {} tokens, the context holds {} (max_seq_len)", i,
           requests[i].prompt.size(), max_len);
  const int64_t slots = std::min<int64_t>(opts_.max_batch, static_cast<int64_t>(requests.size()));
  // Under tensor parallelism the cache holds this rank's key/value heads.
  model::HfConfig cfg = model_.config();
  cfg.num_key_value_heads /= model_.tp_group() ? model_.tp_group()->size() : 1;
  const int64_t bytes = model::KvCache::bytes_needed(cfg, slots, max_len, model_.dtype());
  if (opts_.max_cache_gb > 0 && bytes > opts_.max_cache_gb * 1e9)
    fail("generation: the KV cache for {} sequences of {} positions needs {:.2f} GB, more than max_cache_gb = {} "
         "(lower max_batch or the lengths, or raise the limit)", slots, max_len, bytes / 1e9, opts_.max_cache_gb);
  std::unique_ptr<model::KvCache> cache;
  try {
    cache = std::make_unique<model::KvCache>(cfg, slots, max_len, model_.dtype(), model_.device());
  } catch (const c10::Error& e) {
    fail("generation: cannot allocate the KV cache ({} sequences x {} positions = {:.2f} GB) on {}: {}", slots, max_len,
         bytes / 1e9, model_.device().str(), e.what_without_backtrace());
  }

  at::NoGradGuard ng;
  EvalMode eval(model_);
  // Tensor parallelism: every rank's logits of its own rows, gathered, so all ranks sample alike and
  // run the same passes.
  model::TpGroup* tp = model_.tp_group() && model_.tp_group()->size() > 1 ? model_.tp_group().get() : nullptr;
  const at::Tensor head = tp ? model_.lm_head_weight() : model_.lm_head_weight().narrow(0, 0, model_.vocab_size());
  std::deque<size_t> waiting;
  for (size_t i = 0; i < requests.size(); ++i) waiting.push_back(i);
  std::vector<int64_t> free_slots;
  for (int64_t s = slots - 1; s >= 0; --s) free_slots.push_back(s);
  std::vector<Live> live;

  // Appends a sampled token; true when the sequence is finished.
  auto accept = [&](Live& l, const at::Tensor& logits) {
    const auto& req = requests[l.request];
    const auto& p = req.params;
    Completion& c = out[l.request];
    Sampled s = sample(logits, p, l.gen);
    c.tokens.push_back(s.token);
    c.logprobs.push_back(s.logprob);
    if (p.logprobs_top_k > 0) c.top_logprobs.push_back(std::move(s.top));
    ++stats_.generated_tokens;
    l.next = s.token;
    if (std::find(p.stop_ids.begin(), p.stop_ids.end(), s.token) != p.stop_ids.end()) {
      c.finish_reason = "stop";
      return true;
    }
    if (!p.stop_strings.empty() && tok_) {
      const std::string text = tok_->tokenizer().decode(c.tokens, true);
      for (const auto& stop : p.stop_strings)
        if (!stop.empty() && text.find(stop) != std::string::npos) {
          c.finish_reason = "stop";
          return true;
        }
    }
    if (static_cast<int>(c.tokens.size()) >= p.max_new_tokens ||
        static_cast<int64_t>(req.prompt.size() + c.tokens.size()) >= max_len) {
      c.finish_reason = "length";
      return true;
    }
    return false;
  };
  auto finish = [&](Live& l) {
    Completion& c = out[l.request];
    c.prompt_tokens = static_cast<int64_t>(requests[l.request].prompt.size());
    if (tok_) {
      std::string text = tok_->tokenizer().decode(c.tokens, true);
      for (const auto& stop : requests[l.request].params.stop_strings)
        if (auto at = stop.empty() ? std::string::npos : text.find(stop); at != std::string::npos) text.resize(at);
      c.text = std::move(text);
    }
    free_slots.push_back(l.slot);
    ++stats_.done;
  };
  // One forward pass over the given (sequence, new tokens) pieces; logits of each piece's last token.
  auto forward = [&](const std::vector<Live*>& seqs, const std::vector<std::vector<int64_t>>& pieces) {
    model::KvStep step;
    step.cache = cache.get();
    std::vector<int64_t> pos_ids;
    for (size_t i = 0; i < seqs.size(); ++i) {
      step.doc_slot.push_back(seqs[i]->slot);
      step.doc_start.push_back(seqs[i]->cached);
      step.doc_len.push_back(static_cast<int64_t>(pieces[i].size()));
      for (size_t j = 0; j < pieces[i].size(); ++j) pos_ids.push_back(seqs[i]->cached + static_cast<int64_t>(j));
    }
    auto in = model::PackedInput::from_documents(pieces, model_.device());
    in.position_ids = at::tensor(pos_ids, at::TensorOptions().dtype(at::kLong)).to(model_.device());
    step.prepare(model_.device());
    at::Tensor hidden = model_.hidden_states(in, &step);
    at::Tensor last = in.cu_seqlens.narrow(0, 1, static_cast<int64_t>(seqs.size())).to(at::kLong) - 1;
    for (size_t i = 0; i < seqs.size(); ++i) seqs[i]->cached += static_cast<int64_t>(pieces[i].size());
    at::Tensor logits = at::matmul(hidden.index_select(0, last), head.t());
    if (tp) logits = model::tp_gather(logits, 1, tp).narrow(1, 0, model_.vocab_size());
    return logits.to(at::kFloat).to(at::kCPU);  // [B, V]
  };

  while (!waiting.empty() || !live.empty()) {
    // Admission: waiting prompts take the free slots and are prefilled together.
    std::vector<Live*> admitted;
    std::vector<std::vector<int64_t>> prompts;
    std::vector<Live> fresh;
    while (!free_slots.empty() && !waiting.empty()) {
      Live l;
      l.request = waiting.front();
      waiting.pop_front();
      l.slot = free_slots.back();
      free_slots.pop_back();
      l.gen = at::make_generator<at::CPUGeneratorImpl>(requests[l.request].params.seed);
      fresh.push_back(std::move(l));
    }
    const size_t decoding = live.size();
    for (auto& l : fresh) live.push_back(std::move(l));
    for (size_t i = decoding; i < live.size(); ++i) {
      admitted.push_back(&live[i]);
      const auto& pr = requests[live[i].request].prompt;
      prompts.emplace_back(pr.begin(), pr.end());
    }
    std::vector<bool> done(live.size(), false);
    // Decode: every running sequence feeds its last sampled token.
    if (decoding > 0) {
      std::vector<Live*> seqs;
      std::vector<std::vector<int64_t>> pieces;
      for (size_t i = 0; i < decoding; ++i) {
        seqs.push_back(&live[i]);
        pieces.push_back({live[i].next});
      }
      at::Tensor logits = forward(seqs, pieces);
      for (size_t i = 0; i < decoding; ++i) done[i] = accept(live[i], logits[static_cast<int64_t>(i)]);
    }
    if (!admitted.empty()) {
      at::Tensor logits = forward(admitted, prompts);
      for (size_t i = 0; i < admitted.size(); ++i)
        done[decoding + i] = accept(*admitted[i], logits[static_cast<int64_t>(i)]);
    }
    std::vector<Live> still;
    for (size_t i = 0; i < live.size(); ++i) {
      if (done[i]) finish(live[i]);
      else still.push_back(std::move(live[i]));
    }
    live = std::move(still);
    // Slot order makes the decode batch's cache rows one consecutive block whenever no slot is free.
    std::sort(live.begin(), live.end(), [](const Live& a, const Live& b) { return a.slot < b.slot; });
    stats_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (on_progress) on_progress(stats_);
  }
  return out;
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
