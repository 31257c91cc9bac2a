#pragma once
// Autocast regions (trainer.precision: bf16 — the trainer's forward passes, evaluation, rollouts)
// and autocast state carried from a forward pass into its backward. AutocastScope sets a state and
// puts the caller's back; leaving autocast drops its cast cache (the bf16 copies of the weights).
#include <ATen/ATen.h>

namespace pt::model {

// An autocast state of one device type. A head function whose backward recomputes logits keeps the
// forward's and puts it back around that backward (torch.amp's custom_fwd / custom_bwd): the trainer
// runs backward outside autocast, which would otherwise recompute the logits in another precision
// than the forward's log-sum-exp and run the backward GEMMs in fp32.
struct AutocastState {
  at::DeviceType device = at::kCPU;
  bool enabled = false;
  at::ScalarType dtype = at::kBFloat16;
  static AutocastState of(const at::Tensor& like);
  // As one integer, for an autograd context's saved_data.
  int64_t pack() const;
  static AutocastState unpack(int64_t packed);
};
class AutocastScope {
 public:
  // `active` false: does nothing (the caller's state stays whatever it is).
  explicit AutocastScope(const AutocastState& s, bool active = true);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  AutocastState saved_;
  bool active_;
};

// bf16 autocast on `device`'s type.
inline AutocastState bf16_autocast(at::Device device) { return {device.type(), true, at::kBFloat16}; }

}  // namespace pt::model
