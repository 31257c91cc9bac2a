#pragma once
// Rollout batches in flight to the rollout ranks (rl/rollout_link.h), in step order. submit() hands a
// step's requests, with a snapshot of the weights they are to be generated with, to training rank 0's
// sender thread, which broadcasts them to the workers while the trainers go on; collect() returns each
// training rank its completions of a submitted step. Synchronous RL submits and collects the same
// step at once; asynchronous RL (algorithm.grpo.max_staleness = K) keeps up to K later steps in flight
// while the trainers update on the current one; with partial rollouts one job per step continues the
// unfinished completions of all of them (a completion's tokens then come from several weight versions,
// each recorded). A checkpoint drains the jobs in flight and stores the batches' results and partial
// completions (rank 0 holds them), so a resumed run trains on exactly the rollouts the uninterrupted
// run would have — nothing is regenerated with weights the checkpoint no longer has.
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
  // taken at); a job whose version equals the last one sent carries no weights. send: the batch goes
  // to the workers at once, whole, as a job of its own; false (partial rollouts): it waits for the
  // next dispatch().
  void submit(int64_t step, int64_t version, model::CausalLM& policy, const std::vector<gen::Request>& reqs,
              const std::vector<EpisodeSpec>& specs, bool send = true);
  // Partial rollouts, on every training rank (rank 0 acts): receives the job in flight, then sends one
  // job with the current weights (`version`) that continues every unfinished completion and starts the
  // batches submitted since. A batch due at the next step (step <= version + 1) runs to its end; the
  // others sample at most `segment_tokens` more per completion, so no long completion holds up a step
  // and each batch's tokens come from up to K consecutive weight versions.
  void dispatch(int64_t version, model::CausalLM& policy, int64_t segment_tokens);
  // Collective over the training ranks: this rank's completions of `step`, the oldest step in flight.
  RemoteRollouts collect(int64_t step);
  // Steps below this one have been submitted (the same on every training rank).
  int64_t next_step() const { return next_; }
  size_t in_flight() const { return steps_.size(); }
  // Training rank 0: waits for every job in flight (a checkpoint is about to record them).
  void drain();
  // Rank 0 writes the batches in flight (drained; partial ones with their requests and tokens so far)
  // under `dir`; every training rank reads the step counter back, rank 0 the batches. `dir` empty or
  // without a queue: nothing in flight.
  void save(const std::string& dir);
  void load(const std::string& dir);
  // After training, on every rank: rank 0 waits for what is in flight and releases the workers.
  void stop();
  ~RolloutQueue();

 private:
  RolloutQueue();
  // Rank 0: a submitted step's generation, whole or (partial rollouts) so far.
  struct Batch {
    int64_t step = 0, version = 0;        // version: the weights of its first tokens
    bool segmented = false;               // partial rollouts: generated over several jobs
    std::vector<size_t> counts;           // requests per training rank
    std::vector<gen::Request> requests;   // all training ranks', in order
    std::vector<EpisodeSpec> specs;       // multi-turn episodes (until sent)
    std::vector<gen::Completion> completions;
    std::vector<Episode> episodes;
    std::vector<std::vector<int32_t>> versions;  // segmented: per completion, each token's weights
    size_t unfinished = 0;                // completions not generated, or stopped "partial"
    double generate_s = 0, sync_s = 0;    // the job that finished it (its slowest worker's)
    std::vector<std::string> replies;     // per training rank, once finished
  };
  // Rank 0: a job sent and not yet received: per request (in the job's order) its step and index.
  struct Sent {
    int64_t version = 0;
    std::vector<std::pair<int64_t, size_t>> entries;
  };
  Batch& batch(int64_t step);
  // Rank 0: sends one job (requests with their episode specs, if any) with the weights of `version`.
  void send_job(int64_t version, model::CausalLM& policy, Sent sent, const std::vector<gen::Request>& reqs,
                const std::vector<EpisodeSpec>& specs);
  // Rank 0: the oldest job's results into their batches; a batch it finishes gets its replies.
  void receive();
  void finish(Batch& b);
  // What one job sends to the workers, in order, on the sender thread.
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
  std::deque<Sent> jobs_;        // rank 0: in send order
  std::deque<int64_t> steps_;    // every training rank: the steps in flight
  int64_t next_ = 0;
  int64_t last_version_ = -1;
  double waited_s_ = 0;  // rank 0: dispatch()'s wait for the job in flight, reported by the next collect
};

// Synchronous rollouts on the rollout ranks: submit and collect at once.
RemoteRollouts remote_generate(int64_t step, model::CausalLM& policy, const std::vector<gen::Request>& reqs,
                               const std::vector<EpisodeSpec>& specs = {});
// On every rank after training: training rank 0 releases the workers (the others return at once).
void stop_rollout_workers();

}  // namespace pt::rl
