#pragma once
// Gradient-accumulation fusion for the vocabulary-sized parameters (the embedding and the LM head,
// [V, H]: 310 MB at the Qwen3 vocabulary and hidden 512), as Megatron-LM's
// gradient_accumulation_fusion: inside the trainer's forward + backward, a [V, H] gradient that is
// formed by our own code is added into the parameter's .grad directly, instead of being handed to
// autograd as a fresh [V, H] tensor that autograd then sums with the other use of a tied weight and
// adds into .grad. On the CPU each such tensor is a fresh mapping (glibc maps blocks > 32 MB and
// unmaps them on free) faulted in page by page: 7% of an SFT step in the bench_sft profile.
#include <ATen/ATen.h>

namespace pt::model {

// While one is alive on this thread, the fusions below may write parameters' .grad. Only the
// trainer opens one, around a micro-batch's forward and `loss.backward()`: calls through
// torch::autograd::grad (which must not touch .grad) never run inside it.
class GradAccumulationScope {
 public:
  GradAccumulationScope();
  ~GradAccumulationScope();
  GradAccumulationScope(const GradAccumulationScope&) = delete;
  GradAccumulationScope& operator=(const GradAccumulationScope&) = delete;

 private:
  bool prev_;
};

// Whether `param`'s gradient may be written into its .grad by our code: a scope is open, it is a leaf
// that requires grad, and nothing observes its gradient on the way (no tensor hooks, no
// post-accumulate hooks such as data parallelism's bucket readiness).
bool may_accumulate_into(const at::Tensor& param);

// What accumulate_into_grad did with `g`.
enum class Accumulated {
  kTaken,    // `g` (scaled) became .grad: it is the gradient now, not the caller's buffer any more
  kAdded,    // scale * g was added into the existing .grad: `g` is the caller's to reuse
  kRefused,  // .grad exists in a form `g` cannot be added to in place: nothing was done
};

// Adds scale * g into param.grad (g: dense, param's shape): `g` itself becomes the gradient when
// there is none yet, as autograd's AccumulateGrad takes a tensor nobody else holds.
Accumulated accumulate_into_grad(const at::Tensor& param, at::Tensor g, double scale);

// The embedding lookup's backward may yield a sparse gradient (one row per token instead of a
// dense [V, H] tensor): safe when a dense .grad already exists for autograd to add it into, inside
// a scope (so .grad is not cleared before the backward).
bool sparse_lookup_grad_ok(const at::Tensor& weight);

}  // namespace pt::model
