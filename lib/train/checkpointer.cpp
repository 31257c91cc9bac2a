#include "train/checkpointer.h"

#include "checkpoint/checkpoint.h"
#include "core/error.h"
#include "core/log.h"
#include "parallel/world.h"

namespace pt::train {

Checkpointer::Checkpointer(std::string run_dir, const CheckpointOptions& opts)
    : run_dir_(std::move(run_dir)), opts_(opts) {}

void Checkpointer::add(std::unique_ptr<Stateful> part) { parts_.push_back(std::move(part)); }

std::string Checkpointer::save(int64_t step) const {
  const auto& world = parallel::World::get();
  std::string dir = ckpt::step_dir(run_dir_, step);
  if (world.is_main()) {
    dir = ckpt::save(
        run_dir_, step,
        [&](const std::string& tmp) {
          for (const auto& p : parts_) p->save(tmp);
        },
        opts_.keep_last);
    log::info("checkpoint saved: {}", dir);
  }
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
