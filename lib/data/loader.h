#pragma once
// The loader: a packer on a background thread filling a bounded queue of optimizer steps.
//
// Data parallelism: every rank runs the same deterministic global stream and keeps rows k of each
// step with k % world == rank. Every rank therefore gets the same number of steps (a partial last
// step is dropped everywhere), knows the step's global trained-token count without communication,
// and a checkpoint needs one data state for all ranks. The cost is that every rank tokenizes all
// data, which at > 1M tokens/s per core is far below what a GPU consumes.
#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "data/packer.h"
#include "data/stream.h"

namespace pt::data {

struct StepBatch {
  uint64_t step = 0;        // 0-based position in the stream
  std::vector<Row> rows;    // this rank's rows
  nlohmann::json state;     // loader state after this step (what a checkpoint stores)
  int64_t global_rows = 0;  // the step's counts over all ranks' rows
  int64_t global_tokens = 0;
  int64_t global_trained = 0;
  double global_weight = 0;  // loss weight of the trained tokens (= global_trained without per-position weights)
  std::vector<SourceStats> source_stats;  // cumulative per-source counters of the stream after this step
};

struct LoaderOptions {
  int rows_per_step = 1;  // global, divisible by world
  int rank = 0, world = 1;
  int prefetch_steps = 2;  // 0 = produce on the caller's thread
  int32_t pad_id = 0;
  bool drop_last = true;   // false (evaluation): a final partial step is returned
  int only_source = -1;    // evaluation: one held-out source's records only
};

class Loader {
 public:
  // `restore`: a state() from an earlier loader over the same data and options.
  Loader(const DataSet& ds, DocStream::Split split, const LoaderOptions& opts, const nlohmann::json* restore = nullptr);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  std::optional<StepBatch> next();   // nullopt at the end of the data
  const nlohmann::json& state() const { return state_; }
  uint64_t dropped_rows() const { return dropped_rows_; }

 private:
  std::optional<StepBatch> produce();
  void run();

  LoaderOptions opts_;
  DocStream stream_;
  Packer packer_;
  uint64_t step_ = 0;
  uint64_t dropped_rows_ = 0;
  nlohmann::json state_;

  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::optional<StepBatch>> queue_;
  std::exception_ptr error_;
  bool stop_ = false;
  bool ended_ = false;
};

// Steps in one pass (used when trainer.max_steps is 0, for the schedule length).
uint64_t count_steps(const DataSet& ds, const LoaderOptions& opts);

}  // namespace pt::data
