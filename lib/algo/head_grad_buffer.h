#pragma once
// The LM head's dW buffer on the CPU, kept between calls: one fresh [V, H] tensor per micro-batch is a
// mapping faulted in page by page (model/grad_accumulation.h). Taken by one call at a time (a call in
// flight before another's backward gets its own) and given back when its contents have been added
// into .grad. Used by the chunked cross-entropy (losses.cpp) and the chunked log-probs (logprobs.cpp).
#include <ATen/ATen.h>

#include <mutex>

#include "model/grad_accumulation.h"

namespace pt::algo {

class HeadGradBuffer {
 public:
  // A zeroed [sizes] tensor: the cached one when it matches, else a new one.
  static at::Tensor take(at::IntArrayRef sizes, const at::TensorOptions& options) {
    std::lock_guard<std::mutex> lock(mu_);
    at::Tensor t = std::move(cached_);
    cached_ = at::Tensor();
    if (t.defined() && t.sizes() == sizes && t.scalar_type() == options.dtype().toScalarType() &&
        t.device() == options.device())
      return t.zero_();
    return at::zeros(sizes, options);
  }
  static void give_back(at::Tensor t) {
    std::lock_guard<std::mutex> lock(mu_);
    cached_ = std::move(t);
  }
  // Fused: scale * gw added into weight's .grad (model/grad_accumulation.h), the buffer given back
  // once its contents are there. Returns what autograd still gets: nothing, or gw when .grad could not
  // take it (unscaled).
  static at::Tensor add_into_grad(const at::Tensor& weight, at::Tensor gw, double scale) {
    switch (model::accumulate_into_grad(weight, gw, scale)) {
      case model::Accumulated::kAdded: give_back(std::move(gw)); return at::Tensor();
      case model::Accumulated::kTaken: return at::Tensor();
      case model::Accumulated::kRefused: break;
    }
    return gw;
  }

 private:
  static inline std::mutex mu_;
  static inline at::Tensor cached_;
};

}  // namespace pt::algo
