#include "rl/rollout_link.h"

#include <cstring>

#include "core/error.h"
#include "core/log.h"
#include "model/causal_lm.h"
#include "parallel/world.h"

namespace pt::rl {
namespace {

const char* const kRollout = "rollout";
const char* const kStop = "stop";

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

std::vector<at::Tensor> weights(model::CausalLM& policy) {
  std::vector<at::Tensor> out;
  for (auto& [name, t] : policy.named_parameters(true)) out.push_back(t.detach());
  return out;
}

}  // namespace

std::string encode_requests(const std::vector<gen::Request>& reqs) {
  Writer w;
  w.pod<uint64_t>(reqs.size());
  for (const auto& r : reqs) {
    const auto& p = r.params;
    w.vec(r.prompt);
    w.pod(p.temperature), w.pod(p.top_k), w.pod(p.top_p), w.pod(p.min_p), w.pod(p.seed), w.pod(p.max_new_tokens);
    w.vec(p.stop_ids);
    w.pod<uint64_t>(p.stop_strings.size());
    for (const auto& s : p.stop_strings) w.str(s);
    w.pod(p.logprobs_top_k);
  }
  return w.b;
}

std::vector<gen::Request> decode_requests(const std::string& bytes) {
  Reader r{bytes};
  std::vector<gen::Request> out(r.pod<uint64_t>());
  for (auto& q : out) {
    auto& p = q.params;
    q.prompt = r.vec<int32_t>();
    p.temperature = r.pod<double>(), p.top_k = r.pod<int64_t>(), p.top_p = r.pod<double>(), p.min_p = r.pod<double>();
    p.seed = r.pod<uint64_t>(), p.max_new_tokens = r.pod<int>();
    p.stop_ids = r.vec<int32_t>();
    p.stop_strings.resize(r.pod<uint64_t>());
    for (auto& s : p.stop_strings) s = r.str();
    p.logprobs_top_k = r.pod<int>();
  }
  return out;
}

std::string encode_completions(const std::vector<gen::Completion>& cs) {
  Writer w;
  w.pod<uint64_t>(cs.size());
  for (const auto& c : cs) {
    w.vec(c.tokens);
    w.vec(c.logprobs);
    w.pod<uint64_t>(c.top_logprobs.size());
    for (const auto& alts : c.top_logprobs) w.vec(alts);
    w.str(c.finish_reason);
    w.str(c.text);
    w.pod(c.prompt_tokens);
  }
  return w.b;
}

std::vector<gen::Completion> decode_completions(const std::string& bytes) {
  Reader r{bytes};
  std::vector<gen::Completion> out(r.pod<uint64_t>());
  for (auto& c : out) {
    c.tokens = r.vec<int32_t>();
    c.logprobs = r.vec<double>();
    c.top_logprobs.resize(r.pod<uint64_t>());
    for (auto& alts : c.top_logprobs) alts = r.vec<std::pair<int32_t, double>>();
    c.finish_reason = r.str();
    c.text = r.str();
    c.prompt_tokens = r.pod<int64_t>();
  }
  return out;
}

std::vector<gen::Completion> remote_generate(model::CausalLM& policy, const std::vector<gen::Request>& reqs) {
  const auto& world = parallel::World::get();
  const auto parts = world.gather_bytes(encode_requests(reqs));
  std::vector<std::string> replies;
  if (world.rank() == 0) {
    std::vector<gen::Request> all;
    std::vector<size_t> counts;
    for (const auto& p : parts) {
      auto rs = decode_requests(p);
      counts.push_back(rs.size());
      for (auto& q : rs) all.push_back(std::move(q));
    }
    std::string cmd = kRollout;
    world.link_bcast(cmd);
    world.link_bcast(weights(policy));
    const int workers = world.rollout_workers();
    for (int k = 0; k < workers; ++k) {
      const size_t b = all.size() * k / workers, e = all.size() * (k + 1) / workers;
      world.link_send(k + 1, encode_requests({all.begin() + b, all.begin() + e}));
    }
    std::vector<gen::Completion> done;
    for (int k = 0; k < workers; ++k)
      for (auto& c : decode_completions(world.link_recv(k + 1))) done.push_back(std::move(c));
    PT_CHECK(done.size() == all.size(), "rollout workers returned {} completions for {} requests", done.size(), all.size());
    size_t at = 0;
    for (size_t n : counts) {
      replies.push_back(encode_completions({done.begin() + at, done.begin() + at + n}));
      at += n;
    }
  }
  return decode_completions(world.scatter_bytes(replies));
}

void stop_rollout_workers() {
  const auto& world = parallel::World::get();
  if (world.rollout_workers() == 0 || world.is_rollout_worker() || world.rank() != 0) return;
  std::string cmd = kStop;
  world.link_bcast(cmd);
}

int serve_rollouts(model::CausalLM& policy, const tok::HfTokenizer* tokenizer, int max_batch, bool autocast_bf16) {
  const auto& world = parallel::World::get();
  const auto params = weights(policy);
  gen::EngineOptions eo;
  eo.max_batch = max_batch;
  eo.autocast_bf16 = autocast_bf16;
  int64_t batches = 0, completions = 0;
  for (;;) {
    std::string cmd;
    world.link_bcast(cmd);
    if (cmd == kStop) break;
    PT_CHECK(cmd == kRollout, "rollout link: unexpected command '{}'", cmd);
    {
      at::NoGradGuard ng;
      world.link_bcast(params);
    }
    const auto reqs = decode_requests(world.link_recv(0));
    gen::Engine engine(policy, tokenizer, eo);
    world.link_send(0, encode_completions(engine.generate(reqs)));
    ++batches;
    completions += static_cast<int64_t>(reqs.size());
  }
  log::info("rollout worker {}: {} batches, {} completions", world.global_rank(), batches, completions);
  return 0;
}

}  // namespace pt::rl
