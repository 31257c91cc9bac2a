#pragma once
// The generation engine: prefill of packed prompts, a preallocated KV cache with slot reuse,
// batched decode and continuous batching (a finished sequence's slot goes to the next waiting
// prompt at once), per-sequence sampling with its own seed, stop ids / stop strings / length limits,
// and the log-prob of every sampled token.
//
// It runs on the model's own parameters (no copy): after an optimizer step the next generation sees
// the new weights; LoRA adapters are applied on the fly. Log-probs come from the same forward code
// as training, so they equal a teacher-forced pass over the same tokens (tested to 1e-5 in fp32).
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "generate/sampler.h"
#include "model/causal_lm.h"

namespace pt::tok {
class HfTokenizer;
}

namespace pt::gen {

struct EngineOptions {
  int64_t max_batch = 64;     // sequences decoded together (KV-cache slots)
  int64_t max_seq_len = 0;    // positions per slot; 0 = the longest prompt + max_new_tokens of the requests
  double max_cache_gb = 0;    // refuse up front when the cache would need more; 0 = no limit
  bool autocast_bf16 = false;  // decode under bf16 autocast (trainer.precision bf16: GRPO rollouts)
  // Consecutive requests with the same prompt admitted together (GRPO's G samples of a prompt,
  // generate -n) share one prefill: the cache rows are copied, each samples with its own seed.
  bool share_prefix = true;
};

struct Completion {
  std::vector<int32_t> tokens;    // after the prompt: sampled, and (multi-turn) appended by the caller
  std::vector<double> logprobs;   // per token (0 where appended)
  // Per token: 1 = sampled by the model, 0 = appended between turns (an environment's answer).
  // Empty when nothing was appended (every token sampled).
  std::vector<uint8_t> sampled;
  int turns = 1;
  std::vector<std::vector<std::pair<int32_t, double>>> top_logprobs;
  // The last turn's: "stop" (stop id or stop string) or "length"; "context" when an appended
  // answer left no room in the sequence's cache slot for another turn; "partial" when the request's
  // segment_tokens stopped it (to be resumed).
  std::string finish_reason;
  std::string text;           // decoded (when the engine has a tokenizer), cut before a stop string
  int64_t prompt_tokens = 0;
};

struct Request {
  std::vector<int32_t> prompt;
  SamplingParams params;
  // Multi-turn episodes: positions after the prompt (sampled and appended) its cache slot holds;
  // 0 = max_new_tokens (one turn).
  int64_t max_episode_tokens = 0;
  // Partial rollouts: a single-turn completion an earlier call began (stopped with "partial"), continued
  // here as if never stopped — prompt and these tokens prefilled, its generator advanced past their
  // draws, its stops and max_new_tokens counting them, its tokens and log-probs kept as sampled.
  // Empty = a new completion.
  Completion resume;
  // Tokens this call samples at most (0 = no limit); a sequence stopped by it finishes "partial".
  int64_t segment_tokens = 0;
};

// Tokens after the prompt a request's sequence may hold: max_episode_tokens, else max_new_tokens.
inline int64_t episode_budget(const Request& r) {
  return r.max_episode_tokens > 0 ? r.max_episode_tokens : r.params.max_new_tokens;
}

// Tokens of a completion the model sampled.
int64_t sampled_tokens(const Completion& c);

// A sequence whose turn just ended (stop id, stop string or max_new_tokens): `turn_start` is where
// the turn's tokens begin in its completion.
struct TurnEnd {
  size_t request = 0;
  size_t turn_start = 0;
};
// Multi-turn generation: for each ended turn, the tokens to append before the model's next turn
// (prefilled onto the sequence's cached keys and values), or nullopt to finish the sequence.
using TurnHook = std::function<std::vector<std::optional<std::vector<int32_t>>>(const std::vector<TurnEnd>&,
                                                                                const std::vector<Completion>&)>;

struct Progress {
  int64_t done = 0, total = 0, generated_tokens = 0;
  double seconds = 0;
};

class Engine {
 public:
  Engine(model::CausalLM& model, const tok::HfTokenizer* tokenizer, EngineOptions opts = {});
  // Completions in request order.
  // on_turn_end: multi-turn episodes (none = every sequence is one turn).
  std::vector<Completion> generate(const std::vector<Request>& requests,
                                   const std::function<void(const Progress&)>& on_progress = {},
                                   const TurnHook& on_turn_end = {});
  const Progress& last_run() const { return stats_; }

 private:
  model::CausalLM& model_;
  const tok::HfTokenizer* tok_;
  EngineOptions opts_;
  Progress stats_;
};

// Teacher-forced log-probs of `tokens` after `prompt` under the model (temperature 1): the
// reference the engine's log-probs are checked against.
std::vector<double> teacher_forced_logprobs(model::CausalLM& model, const std::vector<int32_t>& prompt,
                                            const std::vector<int32_t>& tokens);

}  // namespace pt::gen
