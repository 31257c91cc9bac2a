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
                          const std::vector<EpisodeSpec>& specs) {
  const auto& world = parallel::World::get();
  PT_CHECK(step >= next_, "rollout queue: step {} submitted after step {}", step, next_ - 1);
  const auto parts = world.gather_bytes(encode_batch({reqs, specs}));
  steps_.push_back(step);
  next_ = step + 1;
  if (world.rank() != 0) return;
  RolloutBatch all;
  Batch b;
  b.step = step;
  b.version = version;
  for (const auto& p : parts) {
    auto got = decode_batch(p);
    b.counts.push_back(got.requests.size());
    for (auto& q : got.requests) all.requests.push_back(std::move(q));
    for (auto& s : got.specs) all.specs.push_back(std::move(s));
  }
  const bool episodes = !all.specs.empty();
  PT_CHECK(!episodes || all.specs.size() == all.requests.size(), "rollout link: {} episode specs for {} requests",
           all.specs.size(), all.requests.size());
  auto job = std::make_shared<Job>();
  job->cmd = version == last_version_ ? kRolloutSameCommand : kRolloutCommand;
  // A copy: the trainer updates the parameters while the job waits for the workers.
  if (job->cmd == kRolloutCommand) job->buckets = pack_weights(policy, kWeightBucketBytes);
  last_version_ = version;
  const int workers = world.rollout_workers();
  const size_t n = all.requests.size();
  for (int k = 0; k < workers; ++k) {
    const size_t lo = n * k / workers, hi = n * (k + 1) / workers;
    RolloutBatch share{{all.requests.begin() + lo, all.requests.begin() + hi}, {}};
    if (episodes) share.specs.assign(all.specs.begin() + lo, all.specs.begin() + hi);
    job->shares.push_back(encode_batch(share));
  }
  send(std::move(job));
  batches_.push_back(std::move(b));
}

// Training rank 0: the workers' results of the oldest batch not yet received, split per training rank.
void RolloutQueue::receive(Batch& b) {
  const auto& world = parallel::World::get();
  RemoteRollouts done;
  for (int k = 0; k < world.rollout_workers(); ++k) {
    auto got = decode_results(world.link_recv(
        k + 1, true, fmt::format("rollout link: the results of step {} from rollout worker {} (global rank {})", b.step,
                                 k, world.global_size() - world.rollout_workers() + k)));
    b.generate_s = std::max(b.generate_s, got.generate_s);
    b.sync_s = std::max(b.sync_s, got.sync_s);
    for (auto& c : got.completions) done.completions.push_back(std::move(c));
    for (auto& e : got.episodes) done.episodes.push_back(std::move(e));
  }
  size_t n = 0;
  for (size_t c : b.counts) n += c;
  const bool episodes = !done.episodes.empty();
  PT_CHECK(done.completions.size() == n && (!episodes || done.episodes.size() == n),
           "rollout workers returned {} completions and {} episodes for {} requests (step {})", done.completions.size(),
           done.episodes.size(), n, b.step);
  size_t at = 0;
  for (size_t c : b.counts) {
    RemoteRollouts mine;
    mine.completions.assign(done.completions.begin() + at, done.completions.begin() + at + c);
    if (episodes)
      mine.episodes.assign(std::make_move_iterator(done.episodes.begin() + at),
                           std::make_move_iterator(done.episodes.begin() + at + c));
    mine.version = b.version;
    mine.generate_s = b.generate_s;
    mine.sync_s = b.sync_s;
    b.replies.push_back(encode_results(mine));
    at += c;
  }
  b.received = true;
}

RemoteRollouts RolloutQueue::collect(int64_t step) {
  const auto& world = parallel::World::get();
  PT_CHECK(!steps_.empty() && steps_.front() == step, "rollout queue: step {} collected, {} is the oldest in flight",
           step, steps_.empty() ? std::string("none") : std::to_string(steps_.front()));
  const auto t0 = std::chrono::steady_clock::now();
  steps_.pop_front();
  std::vector<std::string> replies;
  if (world.rank() == 0) {
    Batch& b = batches_.front();
    if (!b.received) receive(b);
    replies = std::move(b.replies);
    batches_.pop_front();
  }
  RemoteRollouts mine = decode_results(world.scatter_bytes(replies));
  mine.wait_s = since(t0);  // on every rank: the results reach the others through rank 0
  return mine;
}

void RolloutQueue::drain() {
  if (parallel::World::get().rank() != 0) return;
  for (auto& b : batches_)
    if (!b.received) receive(b);
}

void RolloutQueue::save(const std::string& dir) {
  const auto& world = parallel::World::get();
  if (world.rank() != 0 || steps_.empty()) return;
  drain();
  nlohmann::json j{{"next_step", next_}, {"training_ranks", world.size()}, {"batches", nlohmann::json::array()}};
  for (const auto& b : batches_) {
    j["batches"].push_back({{"step", b.step}, {"version", b.version}, {"counts", b.counts}});
    std::string bytes;
    for (const auto& r : b.replies) {
      const uint64_t n = r.size();
      bytes.append(reinterpret_cast<const char*>(&n), sizeof n);
      bytes += r;
    }
    ckpt::write_file_synced(fmt::format("{}/rollouts_step{}.bin", dir, b.step), bytes);
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
      std::ifstream f(bin, std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      size_t at = 0;
      for (size_t r = 0; r < b.counts.size(); ++r) {
        uint64_t n = 0;
        PT_CHECK(at + sizeof n <= bytes.size(), "{}: truncated (rank {} of {})", bin, r, b.counts.size());
        std::memcpy(&n, bytes.data() + at, sizeof n);
        at += sizeof n;
        PT_CHECK(at + n <= bytes.size(), "{}: truncated (rank {} of {})", bin, r, b.counts.size());
        b.replies.push_back(bytes.substr(at, n));
        at += n;
      }
      b.received = true;
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
