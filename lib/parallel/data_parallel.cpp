#include "parallel/data_parallel.h"
#include "parallel/tensor_parallel.h"

#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/nn/utils/clip_grad.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <regex>

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
  int64_t layer = -1;     // stage 3: the decoder layer whose parameters this bucket holds
  bool resident = true;   // stage 3: pbuf holds data (else its storage is freed)
  WorkPtr gathering;      // stage 3: a gather under way into pbuf
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

constexpr int64_t kInFlightStage2 = 2;  // buckets of full gradients alive at once under stages 2, 3

// Gives a flat buffer's storage `bytes` bytes (0 frees it); the parameters viewing it see the new
// memory, and the values are whatever the caller writes next.
void resize_storage(const at::Tensor& t, size_t bytes) {
  c10::StorageImpl* s = t.storage().unsafeGetStorageImpl();
  if (bytes == 0) {
    s->set_data_ptr_noswap(at::DataPtr(nullptr, s->device()));
  } else {
    s->set_data_ptr_noswap(s->allocator()->allocate(bytes));
  }
  s->set_nbytes(bytes);
}

}  // namespace

int64_t layer_of(const std::string& name) {
  static const std::regex re("(^|\\.)layers\\.([0-9]+)\\.");
  std::smatch m;
  return std::regex_search(name, m, re) ? std::stoll(m[2]) : -1;
}

DataParallel::DataParallel(std::vector<TrainableParam> params, std::shared_ptr<Comm> comm, const ParallelOptions& opts,
                           std::shared_ptr<Comm> gather_comm, ParamSource source)
    : params_(std::move(params)), comm_(std::move(comm)), gather_comm_(gather_comm ? gather_comm : comm_) {
  PT_CHECK(!params_.empty(), "data parallel: no trainable parameters");
  stage_ = opts.strategy == Strategy::Fsdp ? opts.zero_stage : 0;
  const int n = comm_->size(), r = comm_->rank();
  const auto like = params_.front().param;
  for (const auto& p : params_)
    PT_CHECK(p.param.scalar_type() == like.scalar_type() && p.param.device() == like.device(),
             "data parallel: parameters on mixed devices or dtypes ({} is {} on {})", p.name,
             c10::toString(p.param.scalar_type()), p.param.device().str());
  const int64_t cap = std::max<int64_t>(1, static_cast<int64_t>(opts.bucket_mb * (1 << 20)) / like.element_size());

  // Reverse order: the backward pass produces the last layers' gradients first. Stage 3: one
  // bucket per layer and weight-decay group, layers from the last, then the rest (the embedding's
  // gradient comes last).
  where_.resize(params_.size());
  auto fill = [&](const std::vector<size_t>& order, int64_t layer, int64_t limit) {
    size_t open[2] = {SIZE_MAX, SIZE_MAX};  // the bucket being filled, per weight-decay group
    for (size_t i : order) {
      const int g = params_[i].decay ? 1 : 0;
      if (open[g] == SIZE_MAX || buckets_[open[g]]->numel >= limit) {
        buckets_.push_back(std::make_unique<Bucket>());
        open[g] = buckets_.size() - 1;
        buckets_.back()->decay = params_[i].decay;
        buckets_.back()->layer = layer;
      }
      Bucket& b = *buckets_[open[g]];
      where_[i] = {open[g], b.numel};
      b.params.push_back(i);
      b.offsets.push_back(b.numel);
      b.numel += params_[i].param.numel();
    }
  };
  std::vector<size_t> rest;
  std::map<int64_t, std::vector<size_t>, std::greater<int64_t>> by_layer;
  for (size_t i = params_.size(); i-- > 0;) {
    const int64_t l = stage_ == 3 ? layer_of(params_[i].name) : -1;
    (l >= 0 ? by_layer[l] : rest).push_back(i);
  }
  for (const auto& [l, order] : by_layer) {
    fill(order, l, std::numeric_limits<int64_t>::max());
    num_layers_ = std::max(num_layers_, l + 1);
  }
  fill(rest, kRest, cap);
  // The buckets of each unit (kRest, then layers 0..), looked up on every layer of every pass.
  units_.resize(static_cast<size_t>(num_layers_) + 1);
  for (auto& b : buckets_) units_[static_cast<size_t>(b->layer + 1)].push_back(b.get());

  const auto opt = like.options().requires_grad(false);
  for (auto& bp : buckets_) {
    Bucket& b = *bp;
    b.padded = stage_ > 0 ? (b.numel + n - 1) / n * n : b.numel;
    b.shard = b.padded / n;
    if (stage_ < 2) b.grad = at::zeros({b.padded}, opt);
    // Parameters created without memory (deferred by the loader) are read slice by slice from
    // `source` into the shard; the layer is then first gathered when it runs.
    bool deferred = false;
    for (size_t k : b.params) deferred |= params_[k].param.storage().nbytes() < params_[k].param.nbytes();
    PT_CHECK(!deferred || (stage_ == 3 && source), "data parallel: {} has no memory and no source to read it from",
             params_[b.params.front()].name);
    if (stage_ > 0) {
      // Deferred: views are cut from it, then its storage is freed before a page is touched.
      b.pbuf = deferred ? at::empty({b.padded}, opt) : at::zeros({b.padded}, opt);
      b.pshard = b.pbuf.narrow(0, r * b.shard, b.shard);
      b.gshard = at::zeros({b.shard}, opt);
    }
    for (size_t k = 0; k < b.params.size(); ++k) {
      at::Tensor& p = params_[b.params[k]].param;
      const int64_t off = b.offsets[k], numel = p.numel();
      if (stage_ > 0) {
        auto view = b.pbuf.narrow(0, off, numel).view(p.sizes());
        if (!deferred) view.copy_(p.detach());
        p.set_data(view);
      }
      if (b.grad.defined()) p.mutable_grad() = b.grad.narrow(0, off, numel).view(p.sizes());
    }
    if (stage_ == 3) {
      // The shard must outlive pbuf's storage, which is freed between uses.
      b.pshard = deferred ? at::zeros({b.shard}, opt) : b.pshard.clone();
      if (deferred) {
        const int64_t lo = r * b.shard, hi = lo + b.shard;
        for (size_t k = 0; k < b.params.size(); ++k) {
          const auto& tp = params_[b.params[k]];
          const int64_t s = std::max(lo, b.offsets[k]), e = std::min(hi, b.offsets[k] + tp.param.numel());
          if (s < e) source(tp.name, s - b.offsets[k], b.pshard.narrow(0, s - lo, e - s));
        }
        resize_storage(b.pbuf, 0);
        b.resident = false;
      }
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
  if (stage_ >= 2)
    for (auto& p : params_) p.param.mutable_grad() = at::Tensor();
  first_micro_ = true;
}

void DataParallel::begin_backward(bool last) {
  syncing_ = stage_ >= 2 || last;
  for (auto& b : buckets_) b->ready = 0;
  next_launch_ = next_complete_ = 0;
}

void DataParallel::on_grad(size_t i) {
  if (!syncing_) return;
  auto [bi, off] = where_[i];
  Bucket& b = *buckets_[bi];
  if (stage_ >= 2) {
    // Move the gradient into the bucket and drop it, so only buckets in flight hold full gradients.
    at::Tensor& p = params_[i].param;
    if (!b.grad.defined()) b.grad = at::zeros({b.padded}, p.options().requires_grad(false));
    b.grad.narrow(0, off, p.numel()).view(p.sizes()).copy_(p.grad());
    p.mutable_grad() = at::Tensor();
  }
  if (++b.ready == b.params.size()) {
    launch_ready();
    if (stage_ == 3) release(b);  // this layer's (or the rest's) backward is done with its parameters
  }
}

void DataParallel::launch_ready() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_]->ready == buckets_[next_launch_]->params.size()) {
    launch(next_launch_++);
    // Stage 2 bounds the full-size gradients alive: wait for the oldest bucket in flight.
    while (stage_ >= 2 && static_cast<int64_t>(next_launch_ - next_complete_) > kInFlightStage2) complete(next_complete_++);
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
  wait(b.work);
  if (stage_ >= 2) {
    if (b.incoming.defined()) b.gshard.add_(b.incoming);
    b.incoming = at::Tensor();
    b.grad = at::Tensor();
  }
}

void DataParallel::end_backward() {
  if (!syncing_) return;
  // Buckets with a parameter that got no gradient this pass go now, still in index order.
  while (next_launch_ < buckets_.size()) launch(next_launch_++);
  if (stage_ >= 2) {
    while (next_complete_ < buckets_.size()) complete(next_complete_++);
    first_micro_ = false;
  }
  if (stage_ == 3) release_all();  // layers whose parameters got no gradient
}

void DataParallel::finish() {
  while (next_complete_ < buckets_.size()) complete(next_complete_++);
  if (stage_ > 0)
    for (auto& b : buckets_) b->pshard.mutable_grad() = b->gshard;
}

double DataParallel::reduce_and_clip(double max_norm) {
  finish();
  if (stage_ > 0 || !tp_) return clip_grad_norm(max_norm);
  // Replicated parameters have the same gradient on every rank of the group: counted once.
  std::vector<std::pair<at::Tensor, bool>> params;
  for (const auto& p : params_) params.emplace_back(p.param, tp_split_(p.name));
  return clip_grad_norm_tp(params, *tp_, max_norm);
}

double DataParallel::clip_grad_norm(double max_norm) {
  const double limit = max_norm > 0 ? max_norm : std::numeric_limits<double>::infinity();
  if (stage_ == 0) {
    std::vector<at::Tensor> ps;
    for (auto& p : params_) ps.push_back(p.param);
    return torch::nn::utils::clip_grad_norm_(ps, limit);
  }
  // Padding elements carry zero gradient, so the shards' squares sum to the full gradient's.
  double norm = 0;
  if (!tp_) {
    at::Tensor sq = at::zeros({}, params_.front().param.options().dtype(at::kDouble).requires_grad(false));
    for (auto& b : buckets_) sq += b->gshard.to(at::kDouble).pow(2).sum();
    norm = std::sqrt(World::get().allreduce_sum(sq.item<double>()));
  } else {
    // Per owned piece: a slice of a split parameter (summed over the tensor-parallel group too) or
    // of a replicated one (the same on every rank of the group: counted once).
    std::vector<double> sq(2, 0.0);
    const int r = comm_->rank();
    for (const auto& b : buckets_) {
      const int64_t lo = r * b->shard, hi = lo + b->shard;
      for (size_t k = 0; k < b->params.size(); ++k) {
        const int64_t off = b->offsets[k], end = off + params_[b->params[k]].param.numel();
        const int64_t s = std::max(lo, off), e = std::min(hi, end);
        if (s < e)
          sq[tp_split_(params_[b->params[k]].name) ? 0 : 1] +=
              b->gshard.narrow(0, s - lo, e - s).to(at::kDouble).pow(2).sum().item<double>();
      }
    }
    sq = World::get().allreduce_sum(sq);
    at::Tensor split = at::tensor({static_cast<float>(sq[0])}, params_.front().param.options().dtype(at::kFloat).requires_grad(false));
    tp_->all_reduce_sum(split);
    norm = std::sqrt(split.item<double>() + sq[1]);
  }
  const double coef = limit / (norm + 1e-6);
  if (coef < 1)
    for (auto& b : buckets_) b->gshard.mul_(coef);
  return norm;
}

void DataParallel::set_tensor_parallel(model::TpGroup* tp, std::function<bool(const std::string&)> split) {
  tp_ = tp && tp->size() > 1 ? tp : nullptr;
  tp_split_ = std::move(split);
}

void DataParallel::after_step() {
  if (stage_ == 0) return;
  // Stages 1-2 gather in place (each rank's part sits at its offset of the flat buffer); stage 3
  // refreshes only what is resident, the freed units are gathered when they next run.
  for (auto& b : buckets_)
    if (b->resident) b->work = gather_comm_->all_gather(b->pshard, b->pbuf);
  for (auto& b : buckets_)
    if (b->work) wait(b->work);
}

void DataParallel::wait(WorkPtr& w) {
  const auto t0 = std::chrono::steady_clock::now();
  w->wait();
  w.reset();
  wait_s_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double DataParallel::take_wait_seconds() {
  const double s = wait_s_;
  wait_s_ = 0;
  return s;
}

const std::vector<DataParallel::Bucket*>& DataParallel::layer_buckets(int64_t layer) const {
  static const std::vector<Bucket*> none;  // a layer without trainable parameters
  const size_t i = static_cast<size_t>(layer + 1);
  return i < units_.size() ? units_[i] : none;
}

void DataParallel::wait_gathered(const std::vector<Bucket*>& buckets) {
  for (Bucket* b : buckets)
    if (b->gathering) wait(b->gathering);
}

void DataParallel::gather(Bucket& b) {
  if (b.resident) return;
  resize_storage(b.pbuf, static_cast<size_t>(b.padded) * b.pbuf.element_size());
  b.gathering = gather_comm_->all_gather(b.pshard, b.pbuf);
  b.resident = true;
}

void DataParallel::release(Bucket& b) {
  if (!b.resident) return;
  if (b.gathering) wait(b.gathering);
  resize_storage(b.pbuf, 0);
  b.resident = false;
}

void DataParallel::present(int64_t layer) {
  for (Bucket* b : layer_buckets(layer)) gather(*b);
  wait_gathered(layer_buckets(layer));
}

void DataParallel::before_model() {
  if (stage_ == 3) present(kRest);
}

void DataParallel::before_layer(int64_t layer) {
  if (stage_ != 3) return;
  present(layer);
  if (layer + 1 < num_layers_)
    for (Bucket* b : layer_buckets(layer + 1)) gather(*b);  // prefetch
}

void DataParallel::after_layer(int64_t layer, const at::Tensor& output) {
  if (stage_ != 3) return;
  if (at::GradMode::is_enabled() && output.requires_grad()) {
    // Runs when the gradient of this layer's output is complete: right before the layer's backward.
    output.register_hook([this, layer](const at::Tensor&) {
      present(layer);
      if (layer > 0)
        for (Bucket* b : layer_buckets(layer - 1)) gather(*b);  // prefetch
    });
  }
  release_layer(layer);
}

void DataParallel::gather_all() {
  if (stage_ != 3) return;
  for (auto& b : buckets_) gather(*b);
  for (const auto& unit : units_) wait_gathered(unit);
}

void DataParallel::release_layer(int64_t layer) {
  for (Bucket* b : layer_buckets(layer)) release(*b);
}

void DataParallel::release_all() {
  if (stage_ != 3) return;
  for (auto& b : buckets_) release(*b);
}

Present::Present(DataParallel* dp, int64_t layer) : dp_(dp), layer_(layer) {
  if (!dp_) return;
  if (layer_ == kAll) dp_->gather_all();
  else dp_->gather_layer(layer_);
}

Present::~Present() {
  if (!dp_) return;
  if (layer_ == kAll) dp_->release_all();
  else dp_->release_layer(layer_);
}

DataParallel::Bytes DataParallel::bytes() const {
  Bytes out;
  for (const auto& b : buckets_) {
    const int64_t es = b->gshard.defined() ? b->gshard.element_size() : params_.front().param.element_size();
    out.params += (stage_ == 3 ? b->shard : stage_ > 0 ? b->padded : b->numel) * es;
    out.grads += (b->grad.defined() ? b->padded : 0) * es + (b->gshard.defined() ? b->shard : 0) * es;
    out.optimizer += 2 * (stage_ > 0 ? b->shard : b->numel) * es;
  }
  return out;
}

}  // namespace pt::parallel
