#include "model/tensor_parallel.h"

#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <functional>
#include <numeric>

#include "core/error.h"
#include "model/arch.h"

namespace pt::model {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

TpGroup* group_of(AutogradContext* ctx) { return reinterpret_cast<TpGroup*>(ctx->saved_data["group"].toInt()); }

// A summed copy: collectives write in place, and autograd inputs must stay untouched.
at::Tensor summed(const at::Tensor& x, TpGroup* g) {
  at::Tensor y = x.clone(at::MemoryFormat::Contiguous);
  g->all_reduce_sum(y);
  return y;
}

struct Copy : public torch::autograd::Function<Copy> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, int64_t group) {
    ctx->saved_data["group"] = group;
    return x.view_as(x);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    return {summed(grad[0], group_of(ctx)), at::Tensor()};
  }
};

struct Reduce : public torch::autograd::Function<Reduce> {
  static at::Tensor forward(AutogradContext*, const at::Tensor& x, int64_t group) {
    return summed(x, reinterpret_cast<TpGroup*>(group));
  }
  static variable_list backward(AutogradContext*, variable_list grad) { return {grad[0], at::Tensor()}; }
};

// The module a parameter belongs to: "model.layers.3.self_attn.q_proj.weight" -> "q_proj".
std::string module_of(const std::string& name) {
  std::string n = name;
  for (const char* suffix : {".weight", ".bias"}) {
    const std::string s(suffix);
    if (n.size() > s.size() && n.compare(n.size() - s.size(), s.size(), s) == 0) {
      n.resize(n.size() - s.size());
      break;
    }
  }
  const auto dot = n.rfind('.');
  return dot == std::string::npos ? n : n.substr(dot + 1);
}

bool is_bias(const std::string& name) { return name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0; }

}  // namespace

int tp_split_dim(const ArchSpec& arch, const std::string& name) {
  const TensorNames& N = arch.names;
  if (name == N.embed || name == N.lm_head) return 0;
  const std::string m = module_of(name);
  for (const std::string* col : {&N.q, &N.k, &N.v, &N.gate, &N.up})
    if (m == module_of(*col)) return 0;
  for (const std::string* row : {&N.o, &N.down})
    if (m == module_of(*row)) return is_bias(name) ? -1 : 1;
  return -1;
}

at::Tensor tp_copy(const at::Tensor& x, TpGroup* group) {
  if (!group || group->size() == 1) return x;
  return Copy::apply(x, reinterpret_cast<int64_t>(group));
}

at::Tensor tp_reduce(const at::Tensor& x, TpGroup* group) {
  if (!group || group->size() == 1) return x;
  return Reduce::apply(x, reinterpret_cast<int64_t>(group));
}

at::Tensor tp_gather(const at::Tensor& local, int dim, TpGroup* group) {
  PT_CHECK(dim == 0 || dim == 1, "tp_gather: dim {} (expected 0 or 1)", dim);
  if (!group || group->size() == 1) return local;
  if (dim == 0) return group->all_gather(local.contiguous());
  // Columns: gather the transposed slices as rows and transpose back.
  return group->all_gather(local.t().contiguous()).t().contiguous();
}

at::Tensor tp_slice(const at::Tensor& full, int dim, const TpGroup& group) {
  const int64_t n = full.size(dim);
  PT_CHECK(n % group.size() == 0, "tensor parallelism: size {} of dimension {} does not divide by {} ranks", n, dim,
           group.size());
  const int64_t part = n / group.size();
  return full.narrow(dim, part * group.rank(), part).contiguous();
}

void tp_read_slice_range(const at::Tensor& src, at::IntArrayRef whole, int dim, int rank, int size, int64_t begin,
                         const at::Tensor& dst) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  PT_CHECK(dim <= 1 && !whole.empty() && (dim < 1 || whole.size() == 2),
           "tp_read_slice_range: split dimension {} of a {}-D tensor", dim, whole.size());
  std::vector<int64_t> local = whole.vec();
  if (dim >= 0) {
    PT_CHECK(local[dim] % size == 0, "tp_read_slice_range: size {} of dimension {} does not divide by {}", local[dim],
             dim, size);
    local[dim] /= size;
  }
  const int64_t cols = std::accumulate(local.begin() + 1, local.end(), int64_t{1}, std::multiplies<>());
  PT_CHECK(begin >= 0 && begin + n <= local[0] * cols, "tp_read_slice_range: elements [{}, {}) of a slice of {}",
           begin, begin + n, local[0] * cols);
  if (dim <= 0) {
    // Rows split (or none): the slice is one contiguous run of the stored elements.
    const int64_t from = (dim == 0 ? local[0] * rank : 0) * cols + begin;
    const at::Tensor flat = src.reshape({-1});
    const int64_t stored = std::clamp<int64_t>(flat.numel() - from, 0, n);
    at::Tensor out = dst.view({-1});
    if (stored > 0) out.narrow(0, 0, stored).copy_(flat.narrow(0, from, stored));
    out.narrow(0, stored, n - stored).zero_();
    return;
  }
  // Columns split: the local rows [r0, r1) the range covers, staged (at most two rows more than it).
  const int64_t r0 = begin / cols, r1 = (begin + n - 1) / cols + 1;
  const int64_t stored = std::clamp<int64_t>(src.size(0) - r0, 0, r1 - r0);
  at::Tensor rows = at::zeros({r1 - r0, cols}, src.options());
  if (stored > 0) rows.narrow(0, 0, stored).copy_(src.narrow(0, r0, stored).narrow(1, local[1] * rank, local[1]));
  dst.copy_(rows.view({-1}).narrow(0, begin - r0 * cols, n).view(dst.sizes()));
}

}  // namespace pt::model
