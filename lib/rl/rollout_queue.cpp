#include "rl/rollout_queue.h"

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "checkpoint/checkpoint.h"
#include "core/error.h"
#include "core/log.h"
#include "parallel/world.h"

namespace pt::rl {

namespace fs = std::filesystem;

namespace {
double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Not generated yet, or stopped at a segment's end: the next job continues it.
bool is_unfinished(const gen::Completion& c) { return c.finish_reason.empty() || c.finish_reason == "partial"; }
}  // namespace

RolloutQueue::RolloutQueue() = default;
RolloutQueue::~RolloutQueue() = default;

void RolloutQueue::send(std::shared_ptr<Job> job) {
  check_sent();
  if (!sender_) sender_ = std::make_unique<parallel::CommThread>();
  sent_.push_back(sender_->post([job] {
    const auto& world = parallel::World::get();
    world.link_bcast(job->cmd);
    if (job->cmd == kRolloutCommand) world.link_bcast(job->buckets);
    for (size_t k = 0; k < job->shares.size(); ++k) world.link_send(static_cast<int>(k) + 1, job->shares[k]);
  }));
}

void RolloutQueue::check_sent() {
  while (!sent_.empty() && sent_.front().wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
    sent_.front().get();
    sent_.pop_front();
  }
}

RolloutQueue& RolloutQueue::get() {
  static RolloutQueue q;
  return q;
}

void RolloutQueue::submit(int64_t step, int64_t version, model::CausalLM& policy, const std::vector<gen::Request>& reqs,
                          const std::vector<EpisodeSpec>& specs, bool send) {
  const auto& world = parallel::World::get();
  PT_CHECK(step >= next_, "rollout queue: step {} submitted after step {}", step, next_ - 1);
  const auto parts = world.gather_bytes(encode_batch({reqs, specs}));
  steps_.push_back(step);
  next_ = step + 1;
  if (world.rank() != 0) return;
  Batch b;
  b.step = step;
  b.version = version;
  b.segmented = !send;
  for (const auto& p : parts) {
    auto got = decode_batch(p);
    b.counts.push_back(got.requests.size());
    for (auto& q : got.requests) b.requests.push_back(std::move(q));
    for (auto& s : got.specs) b.specs.push_back(std::move(s));
  }
  const size_t n = b.requests.size();
  PT_CHECK(b.specs.empty() || b.specs.size() == n, "rollout link: {} episode specs for {} requests", b.specs.size(), n);
  PT_CHECK(send || b.specs.empty(), "rollout queue: partial rollouts of multi-turn episodes (step {})", step);
  b.completions.resize(n);
  if (!b.specs.empty()) b.episodes.resize(n);
  if (b.segmented) b.versions.resize(n);
  b.unfinished = n;
  batches_.push_back(std::move(b));
  Batch& mine = batches_.back();
  if (n == 0) finish(mine);
  if (!send || n == 0) return;
  Sent job;
  job.version = version;
  for (size_t i = 0; i < n; ++i) job.entries.emplace_back(step, i);
  send_job(version, policy, std::move(job), mine.requests, mine.specs);
  mine.specs.clear();
}

void RolloutQueue::dispatch(int64_t version, model::CausalLM& policy, int64_t segment_tokens) {
  if (parallel::World::get().rank() != 0) return;
  const auto t0 = std::chrono::steady_clock::now();
  drain();  // the continuations start from the tokens the job in flight sampled
  waited_s_ += since(t0);
  Sent job;
  job.version = version;
  std::vector<gen::Request> reqs;
  for (auto& b : batches_) {
    if (b.unfinished == 0) continue;
    PT_CHECK(b.segmented, "rollout queue: step {} is unfinished with nothing in flight", b.step);
    const bool due = b.step <= version + 1;  // collected at the next step: it must end in this job
    for (size_t i = 0; i < b.requests.size(); ++i) {
      const auto& c = b.completions[i];
      if (!is_unfinished(c)) continue;
      gen::Request q = b.requests[i];
      q.resume = c;
      q.segment_tokens = due ? 0 : segment_tokens;
      reqs.push_back(std::move(q));
      job.entries.emplace_back(b.step, i);
    }
  }
  if (!reqs.empty()) send_job(version, policy, std::move(job), reqs, {});
}

RolloutQueue::Batch& RolloutQueue::batch(int64_t step) {
  for (auto& b : batches_)
    if (b.step == step) return b;
  fail("rollout queue: no batch of step {} in flight", step);
}

void RolloutQueue::send_job(int64_t version, model::CausalLM& policy, Sent sent, const std::vector<gen::Request>& reqs,
                            const std::vector<EpisodeSpec>& specs) {
  const auto& world = parallel::World::get();
  auto job = std::make_shared<Job>();
  job->cmd = version == last_version_ ? kRolloutSameCommand : kRolloutCommand;
  // A copy: the trainer updates the parameters while the job waits for the workers.
  if (job->cmd == kRolloutCommand) job->buckets = pack_weights(policy, kWeightBucketBytes);
  last_version_ = version;
  const int workers = world.rollout_workers();
  const size_t n = reqs.size();
  for (int k = 0; k < workers; ++k) {
    const size_t lo = n * k / workers, hi = n * (k + 1) / workers;
    RolloutBatch share{{reqs.begin() + lo, reqs.begin() + hi}, {}};
    if (!specs.empty()) share.specs.assign(specs.begin() + lo, specs.begin() + hi);
    job->shares.push_back(encode_batch(share));
  }
  send(std::move(job));
  jobs_.push_back(std::move(sent));
}

void RolloutQueue::receive() {
  const auto& world = parallel::World::get();
  PT_CHECK(!jobs_.empty(), "rollout queue: nothing in flight to receive");
  const Sent job = std::move(jobs_.front());
  jobs_.pop_front();
  const int64_t first = job.entries.front().first;
  RemoteRollouts done;
  for (int k = 0; k < world.rollout_workers(); ++k) {
    auto got = decode_results(world.link_recv(
        k + 1, true, fmt::format("rollout link: the results of step {} from rollout worker {} (global rank {})", first,
                                 k, world.global_size() - world.rollout_workers() + k)));
    done.generate_s = std::max(done.generate_s, got.generate_s);
    done.sync_s = std::max(done.sync_s, got.sync_s);
    for (auto& c : got.completions) done.completions.push_back(std::move(c));
    for (auto& e : got.episodes) done.episodes.push_back(std::move(e));
  }
  const size_t n = job.entries.size();
  const bool episodes = !done.episodes.empty();
  PT_CHECK(done.completions.size() == n && (!episodes || done.episodes.size() == n),
           "rollout workers returned {} completions and {} episodes for {} requests (step {})", done.completions.size(),
           done.episodes.size(), n, first);
  for (size_t k = 0; k < n; ++k) {
    Batch& b = batch(job.entries[k].first);
    const size_t i = job.entries[k].second;
    if (b.segmented) b.versions[i].resize(done.completions[k].tokens.size(), static_cast<int32_t>(job.version));
    b.completions[i] = std::move(done.completions[k]);
    if (episodes) b.episodes[i] = std::move(done.episodes[k]);
    if (b.completions[i].finish_reason == "partial") continue;
    b.generate_s = done.generate_s, b.sync_s = done.sync_s;  // the job that finished it
    if (--b.unfinished == 0) finish(b);
  }
}

// Rank 0: a finished batch's results, split per training rank.
void RolloutQueue::finish(Batch& b) {
  size_t at = 0;
  for (size_t c : b.counts) {
    RemoteRollouts mine;
    mine.completions.assign(b.completions.begin() + at, b.completions.begin() + at + c);
    if (!b.episodes.empty())
      mine.episodes.assign(std::make_move_iterator(b.episodes.begin() + at),
                           std::make_move_iterator(b.episodes.begin() + at + c));
    if (b.segmented) mine.versions.assign(b.versions.begin() + at, b.versions.begin() + at + c);
    mine.version = b.version;
    mine.generate_s = b.generate_s;
    mine.sync_s = b.sync_s;
    b.replies.push_back(encode_results(mine));
    at += c;
  }
  b.requests.clear(), b.completions.clear(), b.episodes.clear(), b.versions.clear();
}

RemoteRollouts RolloutQueue::collect(int64_t step) {
  const auto& world = parallel::World::get();
  PT_CHECK(!steps_.empty() && steps_.front() == step, "rollout queue: step {} collected, {} is the oldest in flight",
           step, steps_.empty() ? std::string("none") : std::to_string(steps_.front()));
  const auto t0 = std::chrono::steady_clock::now();
  steps_.pop_front();
  std::vector<std::string> replies;
  if (world.rank() == 0) {
    while (batches_.front().unfinished > 0) receive();
    replies = std::move(batches_.front().replies);
    batches_.pop_front();
  }
  RemoteRollouts mine = decode_results(world.scatter_bytes(replies));
  // On every rank: the results reach the others through rank 0, which may have waited in dispatch().
  mine.wait_s = since(t0) + waited_s_;
  waited_s_ = 0;
  return mine;
}

void RolloutQueue::drain() {
  if (parallel::World::get().rank() != 0) return;
  while (!jobs_.empty()) receive();
}

namespace {
// Length-prefixed blobs in one file.
std::string join_blobs(const std::vector<std::string>& blobs) {
  std::string bytes;
  for (const auto& r : blobs) {
    const uint64_t n = r.size();
    bytes.append(reinterpret_cast<const char*>(&n), sizeof n);
    bytes += r;
  }
  return bytes;
}

std::vector<std::string> read_blobs(const std::string& path, size_t count) {
  std::ifstream f(path, std::ios::binary);
  PT_CHECK(f.good(), "{}: missing (the rollouts in flight at the checkpoint)", path);
  const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<std::string> out;
  size_t at = 0;
  for (size_t r = 0; r < count; ++r) {
    uint64_t n = 0;
    PT_CHECK(at + sizeof n <= bytes.size(), "{}: truncated (part {} of {})", path, r, count);
    std::memcpy(&n, bytes.data() + at, sizeof n);
    at += sizeof n;
    PT_CHECK(at + n <= bytes.size(), "{}: truncated (part {} of {})", path, r, count);
    out.push_back(bytes.substr(at, n));
    at += n;
  }
  return out;
}
}  // namespace

void RolloutQueue::save(const std::string& dir) {
  const auto& world = parallel::World::get();
  if (world.rank() != 0 || steps_.empty()) return;
  drain();
  nlohmann::json j{{"next_step", next_}, {"training_ranks", world.size()}, {"batches", nlohmann::json::array()}};
  for (const auto& b : batches_) {
    nlohmann::json e{{"step", b.step}, {"version", b.version}, {"counts", b.counts}};
    std::vector<std::string> blobs = b.replies;
    if (b.unfinished > 0) {
      // Partial rollouts: the requests and every completion so far, continued by the next dispatch.
      e["partial"] = true;
      RemoteRollouts so_far;
      so_far.completions = b.completions;
      so_far.versions = b.versions;
      blobs = {encode_batch({b.requests, {}}), encode_results(so_far)};
    }
    j["batches"].push_back(std::move(e));
    ckpt::write_file_synced(fmt::format("{}/rollouts_step{}.bin", dir, b.step), join_blobs(blobs));
  }
  ckpt::write_file_synced(dir + "/rollout_queue.json", j.dump(1) + "\n");
}

void RolloutQueue::load(const std::string& dir) {
  const auto& world = parallel::World::get();
  const std::string path = dir + "/rollout_queue.json";
  if (dir.empty() || !fs::exists(path)) return;
  nlohmann::json j;
  try {
    std::ifstream in(path);
    in >> j;
    next_ = j.at("next_step").get<int64_t>();
    const int ranks = j.at("training_ranks").get<int>();
    if (ranks != world.size())
      fail("{}: the rollouts in flight were split over {} training rank(s); this run has {}: resume with the same "
           "launch", path, ranks, world.size());
    for (const auto& e : j.at("batches")) {
      Batch b;
      b.step = e.at("step").get<int64_t>();
      b.version = e.at("version").get<int64_t>();
      b.counts = e.at("counts").get<std::vector<size_t>>();
      steps_.push_back(b.step);
      if (world.rank() != 0) continue;
      const std::string bin = fmt::format("{}/rollouts_step{}.bin", dir, b.step);
      if (e.value("partial", false)) {
        const auto blobs = read_blobs(bin, 2);
        b.segmented = true;
        b.requests = decode_batch(blobs[0]).requests;
        RemoteRollouts so_far = decode_results(blobs[1]);
        b.completions = std::move(so_far.completions);
        b.versions = std::move(so_far.versions);
        PT_CHECK(b.completions.size() == b.requests.size() && b.versions.size() == b.requests.size(),
                 "{}: {} completions and {} version lists for {} requests", bin, b.completions.size(),
                 b.versions.size(), b.requests.size());
        for (const auto& c : b.completions) b.unfinished += is_unfinished(c);
      } else {
        b.replies = read_blobs(bin, b.counts.size());
      }
      batches_.push_back(std::move(b));
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail("{}: cannot read the rollouts in flight: {}", path, e.what());
  }
  log::info("rollout queue: {} batch(es) in flight restored from {}", steps_.size(), dir);
}

void RolloutQueue::stop() {
  const auto& world = parallel::World::get();
  if (world.rollout_workers() == 0 || world.is_rollout_worker() || world.rank() != 0) return;
  drain();  // a worker with results to send would never see the stop command
  batches_.clear();
  steps_.clear();
  auto job = std::make_shared<Job>();
  job->cmd = kStopCommand;
  send(std::move(job));
  for (; !sent_.empty(); sent_.pop_front()) sent_.front().get();
  sender_.reset();
}

RemoteRollouts remote_generate(int64_t step, model::CausalLM& policy, const std::vector<gen::Request>& reqs,
                               const std::vector<EpisodeSpec>& specs) {
  auto& q = RolloutQueue::get();
  q.submit(step, step, policy, reqs, specs);
  return q.collect(step);
}

void stop_rollout_workers() { RolloutQueue::get().stop(); }

}  // namespace pt::rl
