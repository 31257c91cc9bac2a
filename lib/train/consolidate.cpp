#include "train/consolidate.h"

#include <filesystem>
#include <memory>
#include <optional>

#include "checkpoint/checkpoint.h"
#include "checkpoint/pieces.h"
#include "core/error.h"
#include "core/log.h"
#include "model/arch.h"
#include "model/causal_lm.h"
#include "model/tensor_parallel.h"
#include "parallel/data_parallel.h"
#include "tokenizer/hf_tokenizer.h"
#include "train/state_parts.h"

namespace pt::train {
namespace fs = std::filesystem;

void export_checkpoint(const std::string& checkpoint_dir, const std::string& out_dir) {
  const fs::path ck(checkpoint_dir);
  if (auto why = ckpt::problem(ck.string())) fail("{}: not a complete checkpoint ({})", ck.string(), *why);
  const fs::path model_dir = ck / "model", shards_dir = ck / kModelShardsDir;
  if (fs::exists(out_dir) && !fs::is_empty(out_dir)) fail("{}: exists and is not empty (choose a new directory)", out_dir);
  if (!fs::is_directory(shards_dir)) {
    // Already a whole HF model (ddp, ZeRO-1/2, LoRA checkpoints).
    fs::create_directories(out_dir);
    fs::copy(model_dir, out_dir, fs::copy_options::recursive);
    log::info("{}: copied the checkpoint's HF model to {}", ck.string(), out_dir);
    return;
  }
  // One set of pieces per tensor-parallel slice (tp-R-of-T/), or one set of the whole tensors.
  const int tp = ckpt::saved_tp_size(shards_dir.string());
  std::vector<std::unique_ptr<ckpt::PieceSet>> slices;
  for (int t = 0; t < tp; ++t)
    slices.push_back(std::make_unique<ckpt::PieceSet>(ckpt::tp_pieces_dir(shards_dir.string(), t, tp), kModelShardsFormat));
  model::ModelOptions mo;
  mo.path = model_dir.string();
  mo.value_head = fs::exists(model_dir / "value_head.safetensors");  // PPO's head on the policy goes along
  model::LoadContext ctx;
  ctx.defer_param = parallel::in_decoder_layer;
  auto model = model::CausalLM::from_pretrained(mo, at::kCPU, ctx);
  const auto& arch = model::find_architecture(model->config().architecture);
  int64_t filled = 0;
  for (auto& [name, p] : model->named_parameters(false)) {
    if (p.storage().nbytes() >= p.nbytes()) continue;  // loaded from the HF files
    at::NoGradGuard ng;
    p.set_data(at::empty(p.sizes(), p.options()));
    const int dim = tp > 1 ? model::tp_split_dim(arch, name) : -1;
    const int parts = dim < 0 ? 1 : tp;  // a replicated tensor is read from slice 0's pieces
    for (int t = 0; t < parts; ++t) {
      at::Tensor dst = dim < 0 ? p : p.narrow(dim, p.size(dim) / tp * t, p.size(dim) / tp);
      at::Tensor local = at::empty(dst.sizes(), p.options());
      const int64_t got = slices[t]->read("param", name, 0, local.view({-1}));
      if (got != local.numel())
        fail("{}: the shards hold {} of the {} elements of {}{}", shards_dir.string(), got, local.numel(), name,
             parts > 1 ? fmt::format(" (tensor-parallel slice {} of {})", t, tp) : std::string());
      dst.copy_(local);
    }
    ++filled;
  }
  std::optional<tok::HfTokenizer> tokenizer;
  if (fs::exists(model_dir / "tokenizer.json")) tokenizer.emplace(tok::HfTokenizer::from_dir(model_dir.string()));
  export_hf(*model, tokenizer ? &*tokenizer : nullptr, out_dir, false);
  log::info("{}: {} decoder-layer tensors from the shards of {} rank(s){} + the rest -> HF model {}", ck.string(), filled,
            slices.front()->saved_world() * tp, tp > 1 ? fmt::format(" ({} tensor-parallel slices)", tp) : std::string(),
            out_dir);
}

}  // namespace pt::train
