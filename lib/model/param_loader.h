#pragma once
// How one parameter of a model being built comes to exist, by name and shape: one of four ways.
//   random    model.init: transformers' initialization (normal with initializer_range; norms 1,
//             Gemma's (1 + w) norms 0, biases 0), drawn whole, then this rank's slice kept;
//   deferred  shape only, storage empty: a sharding strategy fills it from its own reads (ZeRO-3);
//   whole     read straight from the memory-mapped file into the parameter (no host copy);
//   slice     only this rank's slice read (tensor parallelism).
// Embedding / LM-head rows past the file's vocabulary (padding to vocab_pad_multiple) are zeros.
#include <ATen/ATen.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "model/arch.h"
#include "model/options.h"
#include "model/safetensors.h"
#include "model/tensor_parallel.h"

namespace pt::model {

class ParamLoader {
 public:
  // files: the checkpoint read from, or null for random initialization. `out` receives every
  // parameter by name in creation order.
  ParamLoader(const HfConfig& cfg, const ArchSpec& arch, const std::string& path, Checkpoint* files,
              const LoadContext& ctx, TpGroup* tp, at::TensorOptions options,
              std::vector<std::pair<std::string, at::Tensor>>& out);

  // shape: the whole parameter's (padded rows included when pad_rows).
  at::Tensor operator()(const std::string& name, std::vector<int64_t> shape, bool pad_rows = false);
  // A parameter made by the caller (a new head, a file of its own), recorded like the loaded ones.
  at::Tensor add(const std::string& name, at::Tensor t) { return keep(name, std::move(t)); }
  const at::TensorOptions& options() const { return options_; }
  bool from_files() const { return files_ != nullptr; }
  bool in_files(const std::string& name) const { return files_ && files_->contains(name); }
  // Tensors of the files no parameter took (a warning each).
  void warn_unused() const;

 private:
  at::Tensor random(const std::string& name, const std::vector<int64_t>& shape, bool pad_rows);
  at::Tensor deferred(const std::vector<int64_t>& local);
  at::Tensor whole(const std::string& name, const std::vector<int64_t>& shape, int64_t stored_rows);
  at::Tensor slice(const std::string& name, const std::vector<int64_t>& local, int dim);
  at::Tensor keep(const std::string& name, at::Tensor t);

  const HfConfig& cfg_;
  const ArchSpec& arch_;
  std::string path_;
  Checkpoint* files_;
  const LoadContext& ctx_;
  TpGroup* tp_;
  at::TensorOptions options_;
  std::vector<std::pair<std::string, at::Tensor>>& out_;
  std::set<std::string> used_;
};

}  // namespace pt::model
