#pragma once
// Rollout batches in flight to the rollout ranks (rl/rollout_link.h), in step order. submit() hands a
// step's requests, with a snapshot of the weights they are to be generated with, to training rank 0's
// sender thread, which broadcasts them to the workers while the trainers go on; collect() returns each
// training rank its completions of a submitted step. Synchronous RL submits and collects the same
// step at once; asynchronous RL (algorithm.grpo.max_staleness = K) keeps up to K later steps in flight
// while the trainers update on the current one. A checkpoint drains the batches in flight and stores
// their results (rank 0 holds them), so a resumed run trains on exactly the rollouts the
// uninterrupted run would have — nothing is regenerated with weights the checkpoint no longer has.
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "parallel/comm_thread.h"
#include "rl/rollout_link.h"

namespace pt::rl {

class RolloutQueue {
 public:
  static RolloutQueue& get();
  // Collective over the training ranks. `version`: the weights' version (the rollout batch they were
  // taken at); a batch whose version equals the last one sent carries no weights.
  void submit(int64_t step, int64_t version, model::CausalLM& policy, const std::vector<gen::Request>& reqs,
              const std::vector<EpisodeSpec>& specs);
  // Collective over the training ranks: this rank's completions of `step`, the oldest step in flight.
  RemoteRollouts collect(int64_t step);
  // Steps below this one have been submitted (the same on every training rank).
  int64_t next_step() const { return next_; }
  size_t in_flight() const { return steps_.size(); }
  // Training rank 0: waits for every batch in flight (a checkpoint is about to record them).
  void drain();
  // Rank 0 writes the batches in flight (drained) under `dir`; every training rank reads the step
  // counter back, rank 0 the results. `dir` empty or without a queue: nothing in flight.
  void save(const std::string& dir);
  void load(const std::string& dir);
  // After training, on every rank: rank 0 waits for what is in flight and releases the workers.
  void stop();
  ~RolloutQueue();

 private:
  RolloutQueue();
  struct Batch {
    int64_t step = 0, version = 0;
    std::vector<size_t> counts;       // requests per training rank
    std::vector<std::string> replies;  // per training rank, once received
    double generate_s = 0, sync_s = 0;  // the slowest worker's
    bool received = false;
  };
  void receive(Batch& b);
  // What one batch sends to the workers, in order, on the sender thread.
  struct Job {
    std::string cmd;
    std::vector<at::Tensor> buckets;  // with kRolloutCommand
    std::vector<std::string> shares;  // per worker
  };
  void send(std::shared_ptr<Job> job);
  // Rethrows the failure of a send that finished (the sends run on their own thread).
  void check_sent();
  // Training rank 0: the link's broadcasts and request sends run here, in submission order, so a
  // trainer never waits for a worker still generating an earlier batch.
  std::unique_ptr<parallel::CommThread> sender_;
  std::deque<std::shared_future<void>> sent_;
  std::deque<Batch> batches_;    // rank 0: in step order
  std::deque<int64_t> steps_;    // every training rank: the steps in flight
  int64_t next_ = 0;
  int64_t last_version_ = -1;
};

// Synchronous rollouts on the rollout ranks: submit and collect at once.
RemoteRollouts remote_generate(int64_t step, model::CausalLM& policy, const std::vector<gen::Request>& reqs,
                               const std::vector<EpisodeSpec>& specs = {});
// On every rank after training: training rank 0 releases the workers (the others return at once).
void stop_rollout_workers();

}  // namespace pt::rl
