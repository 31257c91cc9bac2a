#pragma once
// One generation call's batch of live sequences over a KV cache, as four named steps the engine
// runs in a loop: admit (waiting requests take free cache slots), decode (every running sequence
// feeds its last sampled token), prefill (the admitted prompts, in one packed pass) and retire
// (finished sequences give their slot back). A sequence's tokens depend only on its own prompt,
// seed and logits, never on what else shares a pass. Sequences admitted together with the same
// prompt as the one before them (the samples of one prompt) share its prefill: one pass, the cache
// rows copied, the first token sampled from the same logits with each sequence's own seed.
//
// Multi-turn: when a turn ends, the caller's hook may hand the sequence tokens to append (an
// environment's answer); the sequence keeps its slot and feeds them, after its last sampled token, as
// one longer piece of the next decode pass at its cached offset — its history is never prefilled
// again. Weights that change between decode steps change only what the next forward pass reads.
#include <ATen/ATen.h>

#include <deque>
#include <vector>

#include "generate/engine.h"
#include "model/kv_cache.h"

namespace pt::gen {

class DecodeBatch {
 public:
  // `out` receives each request's completion at its index; `stats` counts finished requests and
  // generated tokens. max_len: positions per cache slot.
  // on_turn_end: multi-turn continuation (null = one turn per sequence).
  DecodeBatch(model::CausalLM& model, const tok::HfTokenizer* tokenizer, const std::vector<Request>& requests,
              model::KvCache& cache, int64_t max_len, std::vector<Completion>& out, Progress& stats,
              const TurnHook* on_turn_end = nullptr, bool share_prefix = true);

  bool idle() const { return waiting_.empty() && live_.empty(); }
  size_t running() const { return live_.size(); }
  // Waiting requests take the free slots; they join the live sequences after the running ones.
  void admit();
  // The first `n` live sequences feed their last sampled token (and any tokens appended after it)
  // and sample the next.
  void decode(size_t n);
  // The live sequences from index `first` on (the admitted ones) are prefilled together and
  // sample their first token.
  void prefill(size_t first);
  // Sequences whose turn ended are continued by the hook or finished: finished ones get their text
  // and free their slot; the rest stay, in slot order.
  void retire();

 private:
  struct Live {
    size_t request = 0;
    int64_t slot = 0;
    int64_t cached = 0;  // tokens of this sequence already in the cache
    int32_t next = 0;    // the last sampled token, not yet in the cache
    std::vector<int32_t> appended;  // tokens appended after `next` (a multi-turn answer), not yet in the cache
    size_t turn_start = 0;          // where the current turn's tokens begin in the completion
    bool finished = false;
    at::Generator gen;
  };
  // One packed pass over (sequence, new tokens) pieces; the logits of each piece's last token [B, V].
  at::Tensor forward(const std::vector<Live*>& seqs, const std::vector<std::vector<int64_t>>& pieces);
  // Appends a sampled token; true when the sequence is finished (stop id or string, or length).
  bool accept(Live& l, const at::Tensor& logits);
  bool hit_stop_string(const Completion& c, size_t from, const SamplingParams& p) const;
  // Asks the hook about the sequences whose turn ended; the continued ones are unfinished again.
  void continue_turns();
  // Appends the hook's tokens to a sequence, or finishes it ("context") when they leave no room.
  void append(Live& l, const std::vector<int32_t>& tokens);
  void finish(Live& l);

  model::CausalLM& model_;
  const tok::HfTokenizer* tok_;
  const std::vector<Request>& requests_;
  model::KvCache& cache_;
  int64_t max_len_;
  std::vector<Completion>& out_;
  Progress& stats_;
  const TurnHook* on_turn_end_ = nullptr;
  bool share_prefix_ = true;
  model::TpGroup* tp_ = nullptr;  // tensor parallelism: logits of each rank's rows are gathered
  at::Tensor head_;
  std::deque<size_t> waiting_;
  std::vector<int64_t> free_slots_;
  std::vector<Live> live_;
};

}  // namespace pt::gen
