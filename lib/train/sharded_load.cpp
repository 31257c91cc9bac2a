#include "train/sharded_load.h"

#include <filesystem>
#include <map>

#include "core/error.h"
#include "model/tensor_parallel.h"

namespace pt::train {
namespace fs = std::filesystem;

std::shared_ptr<ckpt::PieceSet> open_model_shards(const std::string& checkpoint_dir, int tp_rank, int tp_size) {
  const std::string top = (fs::path(checkpoint_dir) / ckpt::kModelShardsDir).string();
  const int saved = ckpt::saved_tp_size(top);
  if (saved != tp_size)
    fail("{}: the ZeRO-3 model shards were saved with parallel.tensor_parallel = {}; this run has {} (each "
         "tensor-parallel slice is sharded on its own: resume with tensor_parallel {}, any number of data-parallel "
         "ranks, or `posttrain export` it to a whole HF model first)",
         checkpoint_dir, saved, tp_size, saved);
  return std::make_shared<ckpt::PieceSet>(ckpt::tp_pieces_dir(top, tp_rank, tp_size), ckpt::kModelShardsFormat);
}

parallel::ParamSource sharded_source(std::shared_ptr<model::Checkpoint> files, std::shared_ptr<ckpt::PieceSet> shards,
                                     const model::CausalLM& model) {
  struct Split {
    std::vector<int64_t> whole;
    int dim = -1;
  };
  const auto& group = model.tp_group();
  const int tp_rank = group ? group->rank() : 0, tp_size = group ? group->size() : 1;
  std::map<std::string, Split> splits;
  for (const auto& [n, p] : model.named_parameters(false)) {
    Split s{p.sizes().vec(), model.tp_split_dim(n)};
    if (s.dim >= 0) s.whole[s.dim] *= tp_size;
    splits.emplace(n, std::move(s));
  }
  return [files, shards, splits = std::move(splits), tp_rank, tp_size](const std::string& name, int64_t begin,
                                                                       const at::Tensor& dst) {
    if (shards && parallel::in_decoder_layer(name)) {
      const int64_t got = shards->read("param", name, begin, dst);
      if (got != dst.numel())
        fail("{}: the shards hold {} of the {} elements of {} from element {}", ckpt::kModelShardsDir, got,
             dst.numel(), name, begin);
      return;
    }
    const auto it = splits.find(name);
    PT_CHECK(it != splits.end(), "sharded load: {} is not a parameter of the model", name);
    const auto& f = files->file_of(name);
    model::tp_read_slice_range(f.view(name), it->second.whole, it->second.dim, tp_rank, tp_size, begin, dst);
    f.release(name);
  };
}

}  // namespace pt::train
