#include "parallel/tensor_parallel.h"

#include <cmath>
#include <limits>

#include "core/error.h"
#include "parallel/comm.h"

namespace pt::parallel {

namespace {

class CommTpGroup : public model::TpGroup {
 public:
  explicit CommTpGroup(std::unique_ptr<Comm> comm) : comm_(std::move(comm)) {}
  int rank() const override { return comm_->rank(); }
  int size() const override { return comm_->size(); }

  void all_reduce_sum(const at::Tensor& t) override {
    PT_CHECK(t.is_contiguous(), "tensor-parallel all-reduce needs a contiguous tensor");
    if (needs_fp32(t)) {
      at::Tensor f = t.to(at::kFloat);
      comm_->all_reduce_sum(f)->wait();
      t.copy_(f);
      return;
    }
    comm_->all_reduce_sum(t)->wait();
  }

  at::Tensor all_gather(const at::Tensor& t) override {
    PT_CHECK(t.is_contiguous(), "tensor-parallel all-gather needs a contiguous tensor");
    std::vector<int64_t> shape = t.sizes().vec();
    PT_CHECK(!shape.empty(), "tensor-parallel all-gather of a scalar");
    shape[0] *= size();
    const at::Tensor in = needs_fp32(t) ? t.to(at::kFloat) : t;
    at::Tensor out = at::empty(shape, in.options());
    comm_->all_gather(in.reshape({-1}), out.view({-1}))->wait();
    return out.to(t.scalar_type());
  }

 private:
  // MPI moves fp32 CPU tensors only.
  bool needs_fp32(const at::Tensor& t) const { return comm_->name() == "mpi" && t.scalar_type() != at::kFloat; }
  std::unique_ptr<Comm> comm_;
};

}  // namespace

std::shared_ptr<model::TpGroup> make_tp_group(Backend backend, const at::Device& device) {
  return std::make_shared<CommTpGroup>(make_comm(backend, device, /*tensor_group=*/true));
}

double clip_grad_norm_tp(const std::vector<std::pair<at::Tensor, bool>>& params, model::TpGroup& group,
                         double max_norm) {
  at::Tensor split, replicated;
  for (const auto& [p, is_split] : params) {
    if (!p.grad().defined()) continue;
    at::Tensor sq = p.grad().to(at::kDouble).pow(2).sum();
    at::Tensor& acc = is_split ? split : replicated;
    acc = acc.defined() ? acc + sq : sq;
  }
  at::Tensor total = (split.defined() ? split : at::zeros({}, at::kDouble)).reshape({1}).to(at::kFloat).contiguous();
  if (!split.defined() && !params.empty()) total = total.to(params.front().first.device());
  group.all_reduce_sum(total);
  const double norm =
      std::sqrt(total.item<double>() + (replicated.defined() ? replicated.item<double>() : 0.0));
  const double limit = max_norm > 0 ? max_norm : std::numeric_limits<double>::infinity();
  const double coef = limit / (norm + 1e-6);
  if (coef < 1)
    for (const auto& [p, s] : params)
      if (p.grad().defined()) p.grad().mul_(coef);
  return norm;
}

}  // namespace pt::parallel
