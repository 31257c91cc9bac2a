#include "rl/rollout_link.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <thread>

#include "core/error.h"
#include "core/log.h"
#include "model/causal_lm.h"
#include "parallel/world.h"

namespace pt::rl {
namespace {

// Length-prefixed little-endian fields: exact for doubles and for any bytes of a completion's text.
struct Writer {
  std::string b;
  template <class T>
  void pod(T v) {
    b.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void str(const std::string& s) {
    pod<uint64_t>(s.size());
    b += s;
  }
  template <class T>
  void vec(const std::vector<T>& v) {
    pod<uint64_t>(v.size());
    b.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  }
};

struct Reader {
  const std::string& b;
  size_t at = 0;
  void need(size_t n) const { PT_CHECK(at + n <= b.size(), "rollout link: truncated message"); }
  template <class T>
  T pod() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, b.data() + at, sizeof v);
    at += sizeof v;
    return v;
  }
  std::string str() {
    const auto n = pod<uint64_t>();
    need(n);
    std::string s = b.substr(at, n);
    at += n;
    return s;
  }
  template <class T>
  std::vector<T> vec() {
    const auto n = pod<uint64_t>();
    need(n * sizeof(T));
    std::vector<T> v(n);
    if (n) std::memcpy(v.data(), b.data() + at, n * sizeof(T));
    at += n * sizeof(T);
    return v;
  }
};

std::vector<at::Tensor> trainable(model::CausalLM& policy) {
  std::vector<at::Tensor> out;
  for (auto& [name, t] : policy.named_parameters(true)) out.push_back(t.detach());
  return out;
}

// Consecutive parameters per bucket (a parameter larger than a bucket gets one of its own).
std::vector<std::vector<size_t>> bucket_members(const std::vector<at::Tensor>& params, int64_t bucket_bytes) {
  std::vector<std::vector<size_t>> out;
  int64_t bytes = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    const int64_t n = params[i].numel() * 4;
    if (out.empty() || (bytes + n > bucket_bytes && bytes > 0)) {
      out.emplace_back();
      bytes = 0;
    }
    out.back().push_back(i);
    bytes += n;
  }
  return out;
}

}  // namespace

std::vector<int64_t> bucket_sizes(model::CausalLM& policy, int64_t bucket_bytes) {
  const auto params = trainable(policy);
  std::vector<int64_t> sizes;
  for (const auto& m : bucket_members(params, bucket_bytes)) {
    int64_t n = 0;
    for (size_t i : m) n += params[i].numel();
    sizes.push_back(n);
  }
  return sizes;
}

std::vector<at::Tensor> pack_weights(model::CausalLM& policy, int64_t bucket_bytes) {
  at::NoGradGuard ng;
  const auto params = trainable(policy);
  std::vector<at::Tensor> out;
  for (const auto& m : bucket_members(params, bucket_bytes)) {
    std::vector<at::Tensor> flat;
    for (size_t i : m) flat.push_back(params[i].reshape({-1}).to(at::kCPU, at::kFloat));
    out.push_back(at::cat(flat).contiguous());
  }
  return out;
}

void unpack_weights(const std::vector<at::Tensor>& buckets, model::CausalLM& policy) {
  at::NoGradGuard ng;
  const auto params = trainable(policy);
  const auto members = bucket_members(params, kWeightBucketBytes);
  PT_CHECK(members.size() == buckets.size(), "rollout link: {} weight buckets for {} expected", buckets.size(),
           members.size());
  for (size_t b = 0; b < members.size(); ++b) {
    int64_t at = 0;
    for (size_t i : members[b]) {
      const int64_t n = params[i].numel();
      params[i].copy_(buckets[b].narrow(0, at, n).view(params[i].sizes()));
      at += n;
    }
    PT_CHECK(at == buckets[b].numel(), "rollout link: weight bucket {} holds {} values, the parameters {}", b,
             buckets[b].numel(), at);
  }
}

namespace {

void put_completion(Writer& w, const gen::Completion& c);
gen::Completion get_completion(Reader& r);

void put_request(Writer& w, const gen::Request& r) {
  const auto& p = r.params;
  w.vec(r.prompt);
  w.pod(p.temperature), w.pod(p.top_k), w.pod(p.top_p), w.pod(p.min_p), w.pod(p.seed), w.pod(p.max_new_tokens);
  w.vec(p.stop_ids);
  w.pod<uint64_t>(p.stop_strings.size());
  for (const auto& s : p.stop_strings) w.str(s);
  w.pod(p.logprobs_top_k);
  w.pod(r.max_episode_tokens);
  put_completion(w, r.resume);
  w.pod(r.segment_tokens);
}

gen::Request get_request(Reader& r) {
  gen::Request q;
  auto& p = q.params;
  q.prompt = r.vec<int32_t>();
  p.temperature = r.pod<double>(), p.top_k = r.pod<int64_t>(), p.top_p = r.pod<double>(), p.min_p = r.pod<double>();
  p.seed = r.pod<uint64_t>(), p.max_new_tokens = r.pod<int>();
  p.stop_ids = r.vec<int32_t>();
  p.stop_strings.resize(r.pod<uint64_t>());
  for (auto& s : p.stop_strings) s = r.str();
  p.logprobs_top_k = r.pod<int>();
  q.max_episode_tokens = r.pod<int64_t>();
  q.resume = get_completion(r);
  q.segment_tokens = r.pod<int64_t>();
  return q;
}

void put_completion(Writer& w, const gen::Completion& c) {
  w.vec(c.tokens);
  w.vec(c.logprobs);
  w.vec(c.sampled);
  w.pod(c.turns);
  w.pod<uint64_t>(c.top_logprobs.size());
  for (const auto& alts : c.top_logprobs) w.vec(alts);
  w.str(c.finish_reason);
  w.str(c.text);
  w.pod(c.prompt_tokens);
}

gen::Completion get_completion(Reader& r) {
  gen::Completion c;
  c.tokens = r.vec<int32_t>();
  c.logprobs = r.vec<double>();
  c.sampled = r.vec<uint8_t>();
  c.turns = r.pod<int>();
  c.top_logprobs.resize(r.pod<uint64_t>());
  for (auto& alts : c.top_logprobs) alts = r.vec<std::pair<int32_t, double>>();
  c.finish_reason = r.str();
  c.text = r.str();
  c.prompt_tokens = r.pod<int64_t>();
  return c;
}

void put_spec(Writer& w, const EpisodeSpec& s) {
  w.str(s.record.dump());
  w.vec(s.data_prompt);
  w.pod(s.id), w.pod(s.seed);
  w.str(s.where);
}

EpisodeSpec get_spec(Reader& r) {
  EpisodeSpec s;
  s.record = nlohmann::json::parse(r.str());
  s.data_prompt = r.vec<int32_t>();
  s.id = r.pod<uint64_t>(), s.seed = r.pod<uint64_t>();
  s.where = r.str();
  return s;
}

void put_episode(Writer& w, const Episode& e) {
  w.pod(e.id);
  w.str(e.where);
  w.vec(e.prompt);
  w.pod(e.env_reward), w.pod(e.tool_calls_ok), w.pod(e.tool_calls_failed), w.pod(e.env_s);
  w.str(e.stop), w.str(e.last_text), w.str(e.last_raw);
  w.vec(e.turn_rewards);
}

Episode get_episode(Reader& r) {
  Episode e;
  e.id = r.pod<uint64_t>();
  e.where = r.str();
  e.prompt = r.vec<int32_t>();
  e.env_reward = r.pod<double>(), e.tool_calls_ok = r.pod<int>(), e.tool_calls_failed = r.pod<int>(), e.env_s = r.pod<double>();
  e.stop = r.str(), e.last_text = r.str(), e.last_raw = r.str();
  e.turn_rewards = r.vec<std::pair<int64_t, double>>();
  return e;
}

template <class T, class Put>
void put_all(Writer& w, const std::vector<T>& items, Put put) {
  w.pod<uint64_t>(items.size());
  for (const auto& x : items) put(w, x);
}

template <class Get>
auto get_all(Reader& r, Get get) {
  std::vector<decltype(get(r))> out(r.pod<uint64_t>());
  for (auto& x : out) x = get(r);
  return out;
}

}  // namespace

std::string encode_batch(const RolloutBatch& b) {
  Writer w;
  put_all(w, b.requests, put_request);
  put_all(w, b.specs, put_spec);
  return w.b;
}

RolloutBatch decode_batch(const std::string& bytes) {
  Reader r{bytes};
  RolloutBatch b;
  b.requests = get_all(r, get_request);
  b.specs = get_all(r, get_spec);
  return b;
}

std::string encode_results(const RemoteRollouts& x) {
  Writer w;
  put_all(w, x.completions, put_completion);
  put_all(w, x.episodes, put_episode);
  put_all(w, x.versions, [](Writer& o, const std::vector<int32_t>& v) { o.vec(v); });
  w.pod(x.version), w.pod(x.generate_s), w.pod(x.sync_s), w.pod(x.wait_s);
  return w.b;
}

RemoteRollouts decode_results(const std::string& bytes) {
  Reader r{bytes};
  RemoteRollouts x;
  x.completions = get_all(r, get_completion);
  x.episodes = get_all(r, get_episode);
  x.versions = get_all(r, [](Reader& i) { return i.vec<int32_t>(); });
  x.version = r.pod<int64_t>(), x.generate_s = r.pod<double>(), x.sync_s = r.pod<double>(), x.wait_s = r.pod<double>();
  return x;
}

namespace {
// Test hook: POSTTRAIN_FAULT=hang_in_rollout:N makes a rollout worker hang in its N-th batch (with
// POSTTRAIN_FAULT_RANK=R, global rank R only): the trainer's deadline on the link must stop the run.
int64_t hang_in_batch() {
  const char* f = std::getenv("POSTTRAIN_FAULT");
  const std::string key = "hang_in_rollout:";
  if (!f || std::string(f).rfind(key, 0) != 0) return 0;
  if (const char* r = std::getenv("POSTTRAIN_FAULT_RANK"))
    if (std::stoi(r) != parallel::World::get().global_rank()) return 0;
  return std::stoll(std::string(f).substr(key.size()));
}
}  // namespace

int serve_rollouts(model::CausalLM& policy, const tok::HfTokenizer* tokenizer, int max_batch, bool autocast_bf16,
                   EpisodeStage* episodes) {
  const int64_t hang_at = hang_in_batch();
  const auto& world = parallel::World::get();
  // The buckets are received whole before they are copied into the parameters: a batch never
  // starts on half-received weights.
  std::vector<at::Tensor> buckets;
  for (int64_t n : bucket_sizes(policy, kWeightBucketBytes)) buckets.push_back(at::empty({n}, at::kFloat));
  gen::EngineOptions eo;
  eo.max_batch = max_batch;
  eo.autocast_bf16 = autocast_bf16;
  int64_t batches = 0, completions = 0, weight_updates = 0;
  for (;;) {
    std::string cmd;
    world.link_bcast(cmd);
    if (cmd == kStopCommand) break;
    PT_CHECK(cmd == kRolloutCommand || cmd == kRolloutSameCommand, "rollout link: unexpected command '{}'", cmd);
    double sync_s = 0;
    if (cmd == kRolloutCommand) {
      // Timed here, not on rank 0, whose broadcast may have been waiting for this worker to finish a batch.
      const auto t0 = std::chrono::steady_clock::now();
      world.link_bcast(buckets);
      unpack_weights(buckets, policy);
      sync_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      ++weight_updates;
    }
    RolloutBatch b = decode_batch(world.link_recv(0));
    if (batches + 1 == hang_at) {
      log::warn("rollout worker {}: hanging in batch {} (POSTTRAIN_FAULT)", world.global_rank(), hang_at);
      for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
    }
    const auto t0 = std::chrono::steady_clock::now();
    const bool multi = !b.specs.empty();
    PT_CHECK(!multi || episodes, "rollout worker {}: a batch of episodes, and no environment here", world.global_rank());
    // Episodes open here (their environment's state lives with the turns that use it).
    for (size_t i = 0; multi && i < b.specs.size(); ++i) b.requests[i].prompt = episodes->open(b.specs[i]);
    gen::Engine engine(policy, tokenizer, eo);
    RemoteRollouts out;
    out.completions = engine.generate(b.requests, {}, multi ? episodes->hook() : gen::TurnHook{});
    if (multi) out.episodes = episodes->finish(out.completions);
    out.generate_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    out.sync_s = sync_s;
    world.link_send(0, encode_results(out), true);
    ++batches;
    completions += static_cast<int64_t>(b.requests.size());
  }
  log::info("rollout worker {}: {} batches, {} completions, {} weight updates", world.global_rank(), batches,
            completions, weight_updates);
  return 0;
}

}  // namespace pt::rl
