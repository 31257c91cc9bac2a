#include "train/checkpointer.h"

#include <filesystem>

#include "checkpoint/checkpoint.h"
#include "core/error.h"
#include "core/log.h"
#include "parallel/world.h"

namespace pt::train {
namespace fs = std::filesystem;

Checkpointer::Checkpointer(std::string run_dir, const CheckpointOptions& opts)
    : run_dir_(std::move(run_dir)), opts_(opts) {}

void Checkpointer::add(std::unique_ptr<Stateful> part) { parts_.push_back(std::move(part)); }

std::string Checkpointer::save(int64_t step) const {
  const auto& world = parallel::World::get();
  std::string dir = ckpt::step_dir(run_dir_, step);
  bool per_rank = false;
  for (const auto& p : parts_) per_rank |= p->per_rank();
  auto replicated = [&](const std::string& tmp) {
    for (const auto& p : parts_)
      if (!p->per_rank()) p->save(tmp);
  };
  if (!per_rank) {
    if (world.is_main()) dir = ckpt::save(run_dir_, step, replicated, opts_.keep_last);
  } else {
    const std::string staging = ckpt::staging_dir(run_dir_, step);
    if (world.is_main()) {
      fs::remove_all(staging);
      fs::create_directories(staging);
    }
    world.barrier();
    std::string error;
    try {
      for (const auto& p : parts_)
        if (p->per_rank()) p->save(staging);
    } catch (const std::exception& e) {
      error = e.what();
      log::error("writing this rank's part of checkpoint step {}: {}", step, error);
    }
    // All ranks learn that one failed; nothing is committed and earlier checkpoints stay.
    if (world.allreduce_max(error.empty() ? 0 : 1)) {
      if (world.is_main()) fs::remove_all(staging);
      fail("saving checkpoint {} failed on at least one rank ({}); the earlier checkpoints are intact", dir,
           error.empty() ? "see that rank's log" : error);
    }
    if (world.is_main()) dir = ckpt::save_staged(run_dir_, step, replicated, opts_.keep_last);
  }
  if (world.is_main()) log::info("checkpoint saved: {}", dir);
  world.barrier();
  return dir;
}

void Checkpointer::load(const std::string& dir) const {
  for (const auto& p : parts_) {
    try {
      p->load(dir);
    } catch (const Error& e) {
      fail("restoring the {} state from {}: {}", p->name(), dir, e.what());
    }
  }
}

}  // namespace pt::train
