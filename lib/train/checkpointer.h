#pragma once
// The checkpoint of a run, assembled from components that each save and restore their own state
// (torchtitan's dict of Stateful parts): model, optimizer, progress/schedule, RNG, data, algorithm,
// recipe. The Checkpointer owns the cadence (checkpoint.every, the final save) and the commit
// protocol (lib/checkpoint: temporary directory, fsync, rename, DONE last).
#include <memory>
#include <string>
#include <vector>

#include "train/options.h"

namespace pt::train {

class Stateful {
 public:
  virtual ~Stateful() = default;
  virtual std::string name() const = 0;
  virtual void save(const std::string& dir) const = 0;  // into the checkpoint directory being written
  virtual void load(const std::string& dir) = 0;        // from a complete checkpoint directory
  // Every rank saves its own part (sharded state); otherwise rank 0 saves the replicated state.
  virtual bool per_rank() const { return false; }
};

// The format tag of trainer_state.json; a checkpoint without it is not ours.
inline constexpr const char* kCheckpointFormat = "posttrain-checkpoint-v1";

class Checkpointer {
 public:
  Checkpointer(std::string run_dir, const CheckpointOptions& opts);
  void add(std::unique_ptr<Stateful> part);  // saved and restored in the order added

  bool periodic_due(int64_t step) const { return opts_.every > 0 && step % opts_.every == 0; }
  bool final_due() const { return opts_.save_final; }

  // Every rank calls it: every rank writes its per-rank parts into the staging directory, then rank 0
  // writes the replicated state and commits (DONE last); the others wait for it to be complete.
  std::string save(int64_t step) const;
  void load(const std::string& dir) const;

 private:
  std::string run_dir_;
  CheckpointOptions opts_;
  std::vector<std::unique_ptr<Stateful>> parts_;
};

}  // namespace pt::train
