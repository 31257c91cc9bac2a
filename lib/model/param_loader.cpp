#include "model/param_loader.h"

#include <algorithm>

#include "core/error.h"
#include "core/log.h"

namespace pt::model {

ParamLoader::ParamLoader(const HfConfig& cfg, const ArchSpec& arch, const std::string& path, Checkpoint* files,
                         const LoadContext& ctx, TpGroup* tp, at::TensorOptions options,
                         std::vector<std::pair<std::string, at::Tensor>>& out)
    : cfg_(cfg), arch_(arch), path_(path), files_(files), ctx_(ctx), tp_(tp), options_(options), out_(out) {}

at::Tensor ParamLoader::operator()(const std::string& name, std::vector<int64_t> shape, bool pad_rows) {
  if (!files_) return keep(name, random(name, shape, pad_rows));
  std::vector<int64_t> expect = shape;  // as stored: the file's vocabulary, without padding rows
  if (pad_rows) expect[0] = cfg_.vocab_size;
  if (files_->contains(name) && files_->file_of(name).info(name).shape != expect)
    fail("{}: tensor '{}' has shape [{}] but config.json implies [{}]", path_, name,
         fmt::join(files_->file_of(name).info(name).shape, ", "), fmt::join(expect, ", "));
  const int dim = tp_ ? tp_split_dim(arch_, name) : -1;
  std::vector<int64_t> local = shape;  // this rank's slice under tensor parallelism
  if (dim >= 0) local[dim] /= tp_->size();
  if (ctx_.defer_param && ctx_.defer_param(name)) return keep(name, deferred(local));
  if (!files_->contains(name)) fail("{}: checkpoint is missing tensor '{}'", path_, name);
  at::Tensor t = dim < 0 ? whole(name, shape, expect[0]) : slice(name, local, dim);
  files_->file_of(name).release(name);
  return keep(name, t);
}

at::Tensor ParamLoader::random(const std::string& name, const std::vector<int64_t>& shape, bool pad_rows) {
  const double std = cfg_.raw.value("initializer_range", 0.02);
  const bool bias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
  at::Tensor t = name.find("norm") != std::string::npos
                     ? (cfg_.norm_plus_one ? at::zeros(shape, options_) : at::ones(shape, options_))
                     : bias ? at::zeros(shape, options_) : at::empty(shape, options_).normal_(0, std);
  if (pad_rows && shape[0] > cfg_.vocab_size) {
    at::NoGradGuard ng;
    t.narrow(0, cfg_.vocab_size, shape[0] - cfg_.vocab_size).zero_();
  }
  // The whole tensor is drawn first, so a split model starts from the same weights as a whole one.
  if (const int dim = tp_ ? tp_split_dim(arch_, name) : -1; dim >= 0) t = tp_slice(t, dim, *tp_);
  return t;
}

at::Tensor ParamLoader::deferred(const std::vector<int64_t>& local) {
  // Shape only: the storage stays empty until the strategy gives the tensor its memory (from these
  // files — padding rows as zeros —, or from its own shards when the files leave it out).
  at::Tensor t = at::empty({0}, options_);
  t.unsafeGetTensorImpl()->set_sizes_contiguous(local);
  return t;
}

at::Tensor ParamLoader::whole(const std::string& name, const std::vector<int64_t>& shape, int64_t stored_rows) {
  // Created empty and filled from the mapped file: conversion happens in copy_, so no full-size
  // intermediate copy exists on the host.
  at::Tensor t = static_cast<int64_t>(shape[0]) > stored_rows ? at::zeros(shape, options_) : at::empty(shape, options_);
  at::NoGradGuard ng;
  t.narrow(0, 0, stored_rows).copy_(files_->file_of(name).view(name));
  return t;
}

at::Tensor ParamLoader::slice(const std::string& name, const std::vector<int64_t>& local, int dim) {
  // Only this rank's slice is read (rows past the file's vocabulary are padding: zeros).
  const int64_t begin = local[dim] * tp_->rank();
  at::Tensor t = at::zeros(local, options_);
  at::NoGradGuard ng;
  const at::Tensor src = files_->file_of(name).view(name);
  const int64_t stored = std::clamp<int64_t>(src.size(dim) - begin, 0, local[dim]);
  if (stored > 0) t.narrow(dim, 0, stored).copy_(src.narrow(dim, begin, stored));
  return t;
}

at::Tensor ParamLoader::keep(const std::string& name, at::Tensor t) {
  used_.insert(name);
  out_.emplace_back(name, t);
  return t;
}

void ParamLoader::warn_unused() const {
  if (!files_) return;
  for (const auto& n : files_->names())
    if (!used_.count(n)) log::warn("{}: ignoring unexpected tensor '{}'", path_, n);
}

}  // namespace pt::model
