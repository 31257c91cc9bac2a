#include "model/tensor_parallel.h"

#include <torch/csrc/autograd/custom_function.h>

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

}  // namespace pt::model
