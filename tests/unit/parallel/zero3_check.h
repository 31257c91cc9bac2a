#pragma once
// ZeRO-3 over a real model on one rank: the gradients the shards receive (layers gathered and freed
// through the model's LayerHooks, the rest as a unit) equal plain autograd's. Shared by the CPU
// test (MPI communicator of one rank) and the GPU test (NCCL).
#include <algorithm>
#include <string>

#include "../model/model_fixtures.h"
#include "parallel/comm.h"
#include "parallel/data_parallel.h"

namespace pt::test {

inline double zero3_grad_error(const std::string& name, const at::Device& device, parallel::Backend backend) {
  model::ModelOptions o;
  o.path = model_dir(name);
  o.attention = model::AttentionBackend::Sdpa;
  o.dtype = model::Dtype::Float32;
  auto ref = model::CausalLM::from_pretrained(o, device);
  auto m = model::CausalLM::from_pretrained(o, device);
  auto in = model::PackedInput::from_documents(load_reference(name).docs, device);
  auto loss = [](const at::Tensor& logits) { return at::log_softmax(logits, -1).select(1, 5).sum() + logits.pow(2).mean(); };
  loss(ref->logits(in)).backward();
  std::vector<parallel::TrainableParam> params;
  for (auto& [n, p] : m->named_parameters(true)) params.push_back({n, p, m->is_decay_param(n)});
  parallel::ParallelOptions po;
  po.strategy = parallel::Strategy::Fsdp;
  po.zero_stage = 3;
  parallel::DataParallel dp(params, parallel::make_comm(backend, device), po);
  m->set_layer_hooks(&dp);
  dp.zero_grad();
  dp.begin_backward(true);
  loss(m->logits(in)).backward();
  dp.end_backward();
  dp.finish();
  std::map<std::string, at::Tensor> want;
  for (auto& [n, p] : ref->named_parameters(true)) want[n] = p.grad().reshape({-1});
  double worst = 0;
  int64_t covered = 0;
  for (const auto& piece : dp.owned_pieces()) {
    auto got = piece.shard.grad().narrow(0, piece.offset, piece.length);
    worst = std::max(worst, (got - want.at(piece.name).narrow(0, piece.begin, piece.length)).abs().max().item<double>());
    covered += piece.length;
  }
  m->set_layer_hooks(nullptr);
  int64_t total = 0;
  for (auto& [n, g] : want) total += g.numel();
  return covered == total ? worst : 1e9;  // every element must be owned (one rank)
}

}  // namespace pt::test
