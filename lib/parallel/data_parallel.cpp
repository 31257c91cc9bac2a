#include "parallel/data_parallel.h"

#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/nn/utils/clip_grad.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "core/error.h"
#include "parallel/world.h"

namespace pt::parallel {

struct DataParallel::Bucket {
  std::vector<size_t> params;
  std::vector<int64_t> offsets;
  int64_t numel = 0, padded = 0, shard = 0;
  bool decay = true;
  at::Tensor grad;      // [padded]: ddp / stage 1 for the whole update, stage 2 per micro-batch
  at::Tensor pbuf;      // fsdp: [padded] flat parameters (the model's tensors are views of it)
  at::Tensor pshard;    // fsdp: part `rank` of pbuf, what the optimizer steps
  at::Tensor gshard;    // fsdp: [shard] reduced gradient of pshard
  at::Tensor incoming;  // stage 2: a later micro-batch's reduced part, added into gshard
  size_t ready = 0;
  WorkPtr work;
};

namespace {

// Calls back after AccumulateGrad has added a parameter's gradient of this backward pass.
class ReadyHook : public torch::autograd::PostAccumulateGradHook {
 public:
  ReadyHook(std::function<void()> fn) : fn_(std::move(fn)) {}
  void operator()(const torch::autograd::Variable&) override { fn_(); }

 private:
  std::function<void()> fn_;
};

constexpr int64_t kInFlightStage2 = 2;  // buckets of full gradients alive at once under stage 2

}  // namespace

DataParallel::DataParallel(std::vector<TrainableParam> params, std::shared_ptr<Comm> comm, const ParallelOptions& opts)
    : params_(std::move(params)), comm_(std::move(comm)) {
  PT_CHECK(!params_.empty(), "data parallel: no trainable parameters");
  stage_ = opts.strategy == Strategy::Fsdp ? opts.zero_stage : 0;
  const int n = comm_->size(), r = comm_->rank();
  const auto like = params_.front().param;
  for (const auto& p : params_)
    PT_CHECK(p.param.scalar_type() == like.scalar_type() && p.param.device() == like.device(),
             "data parallel: parameters on mixed devices or dtypes ({} is {} on {})", p.name,
             c10::toString(p.param.scalar_type()), p.param.device().str());
  const int64_t cap = std::max<int64_t>(1, static_cast<int64_t>(opts.bucket_mb * (1 << 20)) / like.element_size());

  // Reverse order: the backward pass produces the last layers' gradients first.
  size_t open[2] = {SIZE_MAX, SIZE_MAX};  // the bucket being filled, per weight-decay group
  where_.resize(params_.size());
  for (size_t i = params_.size(); i-- > 0;) {
    const int g = params_[i].decay ? 1 : 0;
    if (open[g] == SIZE_MAX || buckets_[open[g]]->numel >= cap) {
      buckets_.push_back(std::make_unique<Bucket>());
      open[g] = buckets_.size() - 1;
      buckets_.back()->decay = params_[i].decay;
    }
    Bucket& b = *buckets_[open[g]];
    where_[i] = {open[g], b.numel};
    b.params.push_back(i);
    b.offsets.push_back(b.numel);
    b.numel += params_[i].param.numel();
  }

  const auto opt = like.options().requires_grad(false);
  for (auto& bp : buckets_) {
    Bucket& b = *bp;
    b.padded = stage_ > 0 ? (b.numel + n - 1) / n * n : b.numel;
    b.shard = b.padded / n;
    if (stage_ != 2) b.grad = at::zeros({b.padded}, opt);
    if (stage_ > 0) {
      b.pbuf = at::zeros({b.padded}, opt);
      b.pshard = b.pbuf.narrow(0, r * b.shard, b.shard);
      b.gshard = at::zeros({b.shard}, opt);
    }
    for (size_t k = 0; k < b.params.size(); ++k) {
      at::Tensor& p = params_[b.params[k]].param;
      const int64_t off = b.offsets[k], numel = p.numel();
      if (stage_ > 0) {
        auto view = b.pbuf.narrow(0, off, numel).view(p.sizes());
        view.copy_(p.detach());
        p.set_data(view);
      }
      if (b.grad.defined()) p.mutable_grad() = b.grad.narrow(0, off, numel).view(p.sizes());
    }
  }
  for (size_t i = 0; i < params_.size(); ++i)
    torch::autograd::impl::set_post_acc_grad_hooks(params_[i].param,
                                                    std::make_unique<ReadyHook>([this, i] { on_grad(i); }));
}

DataParallel::~DataParallel() {
  for (auto& p : params_) torch::autograd::impl::set_post_acc_grad_hooks(p.param, nullptr);
}

std::vector<at::Tensor> DataParallel::optimizer_params(bool decay) const {
  std::vector<at::Tensor> out;
  if (stage_ == 0) {
    for (const auto& p : params_)
      if (p.decay == decay) out.push_back(p.param);
    return out;
  }
  for (const auto& b : buckets_)
    if (b->decay == decay) out.push_back(b->pshard);
  return out;
}

std::vector<OwnedPiece> DataParallel::owned_pieces() const {
  std::vector<OwnedPiece> out;
  if (stage_ == 0) return out;
  const int r = comm_->rank();
  for (const auto& b : buckets_) {
    const int64_t lo = r * b->shard, hi = lo + b->shard;
    for (size_t k = 0; k < b->params.size(); ++k) {
      const int64_t off = b->offsets[k], end = off + params_[b->params[k]].param.numel();
      const int64_t s = std::max(lo, off), e = std::min(hi, end);
      if (s < e) out.push_back({params_[b->params[k]].name, s - off, e - s, s - lo, b->pshard});
    }
  }
  return out;
}

void DataParallel::zero_grad() {
  for (auto& b : buckets_) {
    if (b->grad.defined()) b->grad.zero_();
    if (b->gshard.defined()) b->gshard.zero_();
    b->incoming = at::Tensor();
  }
  if (stage_ == 2)
    for (auto& p : params_) p.param.mutable_grad() = at::Tensor();
  first_micro_ = true;
}

void DataParallel::begin_backward(bool last) {
  syncing_ = stage_ == 2 || last;
  for (auto& b : buckets_) b->ready = 0;
  next_launch_ = next_complete_ = 0;
}

void DataParallel::on_grad(size_t i) {
  if (!syncing_) return;
  auto [bi, off] = where_[i];
  Bucket& b = *buckets_[bi];
  if (stage_ == 2) {
    // Move the gradient into the bucket and drop it, so only buckets in flight hold full gradients.
    at::Tensor& p = params_[i].param;
    if (!b.grad.defined()) b.grad = at::zeros({b.padded}, p.options().requires_grad(false));
    b.grad.narrow(0, off, p.numel()).view(p.sizes()).copy_(p.grad());
    p.mutable_grad() = at::Tensor();
  }
  if (++b.ready == b.params.size()) launch_ready();
}

void DataParallel::launch_ready() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_]->ready == buckets_[next_launch_]->params.size()) {
    launch(next_launch_++);
    // Stage 2 bounds the full-size gradients alive: wait for the oldest bucket in flight.
    while (stage_ == 2 && static_cast<int64_t>(next_launch_ - next_complete_) > kInFlightStage2) complete(next_complete_++);
  }
}

void DataParallel::launch(size_t bi) {
  Bucket& b = *buckets_[bi];
  if (!b.grad.defined()) b.grad = at::zeros({b.padded}, b.gshard.options());  // stage 2, no gradient this pass
  if (stage_ == 0) {
    b.work = comm_->all_reduce_sum(b.grad);
  } else if (stage_ == 1 || first_micro_) {
    b.work = comm_->reduce_scatter_sum(b.grad, b.gshard);
  } else {
    b.incoming = at::empty({b.shard}, b.gshard.options());
    b.work = comm_->reduce_scatter_sum(b.grad, b.incoming);
  }
}

void DataParallel::complete(size_t bi) {
  Bucket& b = *buckets_[bi];
  if (!b.work) return;
  b.work->wait();
  b.work.reset();
  if (stage_ == 2) {
    if (b.incoming.defined()) b.gshard.add_(b.incoming);
    b.incoming = at::Tensor();
    b.grad = at::Tensor();
  }
}

void DataParallel::end_backward() {
  if (!syncing_) return;
  // Buckets with a parameter that got no gradient this pass go now, still in index order.
  while (next_launch_ < buckets_.size()) launch(next_launch_++);
  if (stage_ == 2) {
    while (next_complete_ < buckets_.size()) complete(next_complete_++);
    first_micro_ = false;
  }
}

void DataParallel::finish() {
  while (next_complete_ < buckets_.size()) complete(next_complete_++);
  if (stage_ > 0)
    for (auto& b : buckets_) b->pshard.mutable_grad() = b->gshard;
}

double DataParallel::clip_grad_norm(double max_norm) {
  const double limit = max_norm > 0 ? max_norm : std::numeric_limits<double>::infinity();
  if (stage_ == 0) {
    std::vector<at::Tensor> ps;
    for (auto& p : params_) ps.push_back(p.param);
    return torch::nn::utils::clip_grad_norm_(ps, limit);
  }
  // Padding elements carry zero gradient, so the shards' squares sum to the full gradient's.
  at::Tensor sq = at::zeros({}, params_.front().param.options().dtype(at::kDouble).requires_grad(false));
  for (auto& b : buckets_) sq += b->gshard.to(at::kDouble).pow(2).sum();
  const double norm = std::sqrt(World::get().allreduce_sum(sq.item<double>()));
  const double coef = limit / (norm + 1e-6);
  if (coef < 1)
    for (auto& b : buckets_) b->gshard.mul_(coef);
  return norm;
}

void DataParallel::after_step() {
  if (stage_ == 0) return;
  // In place: each rank's part already sits at its offset of the flat buffer.
  for (auto& b : buckets_) b->work = comm_->all_gather(b->pshard, b->pbuf);
  for (auto& b : buckets_) {
    b->work->wait();
    b->work.reset();
  }
}

DataParallel::Bytes DataParallel::bytes() const {
  Bytes out;
  for (const auto& b : buckets_) {
    const int64_t es = b->gshard.defined() ? b->gshard.element_size() : params_.front().param.element_size();
    out.params += (stage_ > 0 ? b->padded : b->numel) * es;
    out.grads += (b->grad.defined() ? b->padded : 0) * es + (b->gshard.defined() ? b->shard : 0) * es;
    out.optimizer += 2 * (stage_ > 0 ? b->shard : b->numel) * es;
  }
  return out;
}

}  // namespace pt::parallel
