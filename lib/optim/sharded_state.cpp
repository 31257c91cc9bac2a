#include "optim/sharded_state.h"

#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include "checkpoint/pieces.h"
#include "core/error.h"

namespace pt::optim {
namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "posttrain-zero-adamw-v1";
const char* const kMoments[] = {"exp_avg", "exp_avg_sq"};

torch::optim::AdamWParamState* state_of(const Optimizer& opt, const at::Tensor& shard) {
  auto& st = const_cast<torch::optim::AdamW&>(*opt.adamw).state();
  auto it = st.find(shard.unsafeGetTensorImpl());
  return it == st.end() ? nullptr : static_cast<torch::optim::AdamWParamState*>(it->second.get());
}

}  // namespace

std::string sharded_dir(const std::string& dir, int tp_rank, int tp_size) {
  return ckpt::tp_pieces_dir((fs::path(dir) / "optimizer").string(), tp_rank, tp_size);
}

void save_sharded(const Optimizer& opt, const std::vector<parallel::OwnedPiece>& owned, const std::string& dir,
                  int rank, int world, int tp_rank, int tp_size) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  int64_t step = 0;
  for (const auto& p : owned) {
    const auto* s = state_of(opt, p.shard);
    if (!s) continue;  // no update yet: nothing to keep
    step = s->step();
    tensors.emplace_back(ckpt::piece_key("exp_avg", p.name, p.begin), s->exp_avg().narrow(0, p.offset, p.length));
    tensors.emplace_back(ckpt::piece_key("exp_avg_sq", p.name, p.begin), s->exp_avg_sq().narrow(0, p.offset, p.length));
  }
  ckpt::write_pieces(sharded_dir(dir, tp_rank, tp_size), rank, world, kFormat, tensors, {{"step", std::to_string(step)}});
}

void load_sharded(Optimizer& opt, const std::vector<parallel::OwnedPiece>& owned, const std::string& dir, int tp_rank,
                  int tp_size) {
  const fs::path top = fs::path(dir) / "optimizer";
  if (!fs::is_directory(top))
    fail("{}: no optimizer/ directory — the checkpoint was not written by parallel.strategy: fsdp (resume it with "
         "the strategy it was saved with)", dir);
  const int saved_tp = ckpt::saved_tp_size(top.string());
  const fs::path sub = sharded_dir(dir, tp_rank, tp_size);
  if (saved_tp != tp_size || !fs::is_directory(sub)) {
    fail("{}: the fsdp optimizer state was saved with parallel.tensor_parallel = {}; this run has {} (fsdp state is "
         "kept per tensor-parallel slice: resume with tensor_parallel {}, any number of data-parallel ranks)", dir,
         saved_tp, tp_size, saved_tp);
  }
  ckpt::PieceSet saved(sub.string(), kFormat);
  const int64_t step = std::stoll(saved.metadata().at("step"));
  if (step == 0) return;  // saved before the first update
  auto& st = opt.adamw->state();
  for (const auto& p : owned) {
    void* key = p.shard.unsafeGetTensorImpl();
    // The saved moments are exp_avg and exp_avg_sq only: the recipe has no amsgrad switch.
    if (!st.count(key)) st[key] = new_adamw_state(p.shard, step, /*amsgrad=*/false);
    auto* s = static_cast<torch::optim::AdamWParamState*>(st[key].get());
    for (const char* m : kMoments) {
      at::Tensor dst = (std::string(m) == "exp_avg" ? s->exp_avg() : s->exp_avg_sq()).narrow(0, p.offset, p.length);
      const int64_t covered = saved.read(m, p.name, p.begin, dst);
      if (covered != p.length)
        fail("{}: the optimizer shards cover {} of the {} elements of {} from element {} (a checkpoint of another "
             "model?)", sub.string(), covered, p.length, p.name, p.begin);
    }
  }
}

}  // namespace pt::optim
