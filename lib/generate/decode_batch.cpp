#include "generate/decode_batch.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>

#include "core/error.h"

#include "model/tensor_parallel.h"
#include "tokenizer/hf_tokenizer.h"

namespace pt::gen {

DecodeBatch::DecodeBatch(model::CausalLM& model, const tok::HfTokenizer* tokenizer, const std::vector<Request>& requests,
                         model::KvCache& cache, int64_t max_len, std::vector<Completion>& out, Progress& stats,
                         const TurnHook* on_turn_end, bool share_prefix)
    : model_(model),
      tok_(tokenizer),
      requests_(requests),
      cache_(cache),
      max_len_(max_len),
      out_(out),
      stats_(stats),
      on_turn_end_(on_turn_end && *on_turn_end ? on_turn_end : nullptr),
      share_prefix_(share_prefix) {
  // Tensor parallelism: every rank's logits of its own rows, gathered, so all ranks sample alike and
  // run the same passes.
  tp_ = model_.tp_group() && model_.tp_group()->size() > 1 ? model_.tp_group().get() : nullptr;
  head_ = tp_ ? model_.lm_head_weight() : model_.lm_head_weight().narrow(0, 0, model_.vocab_size());
  for (size_t i = 0; i < requests.size(); ++i) waiting_.push_back(i);
  for (int64_t s = cache.slots() - 1; s >= 0; --s) free_slots_.push_back(s);
}

void DecodeBatch::admit() {
  while (!free_slots_.empty() && !waiting_.empty()) {
    Live l;
    l.request = waiting_.front();
    waiting_.pop_front();
    l.slot = free_slots_.back();
    free_slots_.pop_back();
    const Request& req = requests_[l.request];
    l.gen = at::make_generator<at::CPUGeneratorImpl>(req.params.seed);
    // A resumed completion's generator continues where it stopped: one draw per sampled token.
    if (req.params.temperature > 0)
      for (size_t t = 0; t < req.resume.tokens.size(); ++t) at::check_generator<at::CPUGeneratorImpl>(l.gen)->random64();
    live_.push_back(std::move(l));
  }
}

void DecodeBatch::decode(size_t n) {
  if (n == 0) return;
  std::vector<Live*> seqs;
  std::vector<std::vector<int64_t>> pieces;
  for (size_t i = 0; i < n; ++i) {
    seqs.push_back(&live_[i]);
    pieces.push_back({live_[i].next});
    pieces.back().insert(pieces.back().end(), live_[i].appended.begin(), live_[i].appended.end());
    live_[i].appended.clear();
  }
  at::Tensor logits = forward(seqs, pieces);
  for (size_t i = 0; i < n; ++i) live_[i].finished = accept(live_[i], logits[static_cast<int64_t>(i)]);
}

void DecodeBatch::prefill(size_t first) {
  if (first >= live_.size()) return;
  // A sequence whose prompt equals the one before it (the samples of one prompt) follows that
  // sequence's prefill instead of computing its own: the same cache rows, the same logits.
  std::vector<Live*> seqs;
  std::vector<std::vector<int64_t>> prompts;
  std::vector<size_t> row_of;  // per admitted sequence, its logits row in the pass (its leader's when it shares)
  for (size_t i = first; i < live_.size(); ++i) {
    const Request& req = requests_[live_[i].request];
    const Request* before = seqs.empty() ? nullptr : &requests_[seqs.back()->request];
    // (A resumed completion prefills its tokens after the prompt.)
    if (!(share_prefix_ && before && before->prompt == req.prompt && before->resume.tokens == req.resume.tokens)) {
      seqs.push_back(&live_[i]);
      prompts.emplace_back(req.prompt.begin(), req.prompt.end());
      prompts.back().insert(prompts.back().end(), req.resume.tokens.begin(), req.resume.tokens.end());
    }
    row_of.push_back(seqs.size() - 1);
  }
  at::Tensor logits = forward(seqs, prompts);
  std::vector<std::vector<int64_t>> forks(seqs.size());
  for (size_t i = first; i < live_.size(); ++i)
    if (&live_[i] != seqs[row_of[i - first]]) forks[row_of[i - first]].push_back(live_[i].slot);
  for (size_t j = 0; j < seqs.size(); ++j) cache_.fork(seqs[j]->slot, forks[j], seqs[j]->cached);
  for (size_t i = first; i < live_.size(); ++i) {
    Live& l = live_[i];
    const size_t row = row_of[i - first];
    l.cached = seqs[row]->cached;
    l.finished = accept(l, logits[static_cast<int64_t>(row)]);
  }
}

void DecodeBatch::retire() {
  if (on_turn_end_) continue_turns();
  std::vector<Live> still;
  for (auto& l : live_) {
    if (l.finished) finish(l);
    else still.push_back(std::move(l));
  }
  live_ = std::move(still);
  // Slot order makes the decode batch's cache rows one consecutive block whenever no slot is free.
  std::sort(live_.begin(), live_.end(), [](const Live& a, const Live& b) { return a.slot < b.slot; });
}

void DecodeBatch::continue_turns() {
  std::vector<TurnEnd> ended;
  std::vector<Live*> who;
  for (auto& l : live_)
    if (l.finished) {
      ended.push_back({l.request, l.turn_start});
      who.push_back(&l);
    }
  if (ended.empty()) return;
  const auto more = (*on_turn_end_)(ended, out_);
  PT_CHECK(more.size() == ended.size(), "generation: the turn hook answered {} of {} ended turns", more.size(), ended.size());
  for (size_t i = 0; i < who.size(); ++i)
    if (more[i]) append(*who[i], *more[i]);
}

void DecodeBatch::append(Live& l, const std::vector<int32_t>& tokens) {
  const Request& req = requests_[l.request];
  Completion& c = out_[l.request];
  const int64_t budget = episode_budget(req);
  const int64_t after = static_cast<int64_t>(c.tokens.size() + tokens.size());
  // Room for the appended tokens and at least one sampled token, in the slot and in the episode's budget.
  if (tokens.empty() || after + 1 > budget || static_cast<int64_t>(req.prompt.size()) + after + 1 > max_len_) {
    c.finish_reason = "context";
    return;
  }
  if (c.sampled.empty()) c.sampled.assign(c.tokens.size(), 1);
  c.tokens.insert(c.tokens.end(), tokens.begin(), tokens.end());
  c.logprobs.resize(c.tokens.size(), 0.0);
  c.sampled.resize(c.tokens.size(), 0);
  if (req.params.logprobs_top_k > 0) c.top_logprobs.resize(c.tokens.size());
  ++c.turns;
  l.appended = tokens;
  l.turn_start = c.tokens.size();
  l.finished = false;
  c.finish_reason.clear();
}

at::Tensor DecodeBatch::forward(const std::vector<Live*>& seqs, const std::vector<std::vector<int64_t>>& pieces) {
  model::KvStep step;
  step.cache = &cache_;
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
  at::Tensor logits = at::matmul(hidden.index_select(0, last), head_.t());
  if (tp_) logits = model::tp_gather(logits, 1, tp_).narrow(1, 0, model_.vocab_size());
  return logits.to(at::kFloat).to(at::kCPU);
}

bool DecodeBatch::hit_stop_string(const Completion& c, size_t from, const SamplingParams& p) const {
  if (p.stop_strings.empty() || !tok_) return false;
  const std::vector<int32_t> turn(c.tokens.begin() + static_cast<std::ptrdiff_t>(from), c.tokens.end());
  const std::string text = tok_->tokenizer().decode(turn, true);
  for (const auto& stop : p.stop_strings)
    if (!stop.empty() && text.find(stop) != std::string::npos) return true;
  return false;
}

bool DecodeBatch::accept(Live& l, const at::Tensor& logits) {
  const auto& req = requests_[l.request];
  const auto& p = req.params;
  Completion& c = out_[l.request];
  Sampled s = sample(logits, p, l.gen);
  c.tokens.push_back(s.token);
  c.logprobs.push_back(s.logprob);
  if (p.logprobs_top_k > 0) c.top_logprobs.push_back(std::move(s.top));
  ++stats_.generated_tokens;
  if (!c.sampled.empty()) c.sampled.push_back(1);
  l.next = s.token;
  if (std::find(p.stop_ids.begin(), p.stop_ids.end(), s.token) != p.stop_ids.end() || hit_stop_string(c, l.turn_start, p)) {
    c.finish_reason = "stop";
    return true;
  }
  const int64_t budget = episode_budget(req);
  if (static_cast<int64_t>(c.tokens.size() - l.turn_start) >= p.max_new_tokens ||
      static_cast<int64_t>(c.tokens.size()) >= budget ||
      static_cast<int64_t>(req.prompt.size() + c.tokens.size()) >= max_len_) {
    c.finish_reason = "length";
    return true;
  }
  if (req.segment_tokens > 0 && static_cast<int64_t>(c.tokens.size() - req.resume.tokens.size()) >= req.segment_tokens) {
    c.finish_reason = "partial";
    return true;
  }
  return false;
}

void DecodeBatch::finish(Live& l) {
  Completion& c = out_[l.request];
  c.prompt_tokens = static_cast<int64_t>(requests_[l.request].prompt.size());
  if (tok_) {
    // A stop string cuts the last turn only; earlier turns (multi-turn) are kept whole.
    const auto from = static_cast<std::ptrdiff_t>(l.turn_start);
    std::string text = tok_->tokenizer().decode({c.tokens.begin() + from, c.tokens.end()}, true);
    for (const auto& stop : requests_[l.request].params.stop_strings)
      if (auto at = stop.empty() ? std::string::npos : text.find(stop); at != std::string::npos) text.resize(at);
    c.text = from > 0 ? tok_->tokenizer().decode({c.tokens.begin(), c.tokens.begin() + from}, true) + text : std::move(text);
  }
  free_slots_.push_back(l.slot);
  ++stats_.done;
}

}  // namespace pt::gen
