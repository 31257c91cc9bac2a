#pragma once
// Calls around each decoder layer's forward pass, for a strategy that keeps a layer's parameters
// only while it runs (fsdp ZeRO-3 gathers them before and frees them after; a hook on the layer's
// output brings them back before the layer's backward).
#include <cstdint>

#include <ATen/ATen.h>

namespace pt::model {

class LayerHooks {
 public:
  virtual ~LayerHooks() = default;
  // Before the embedding lookup of every forward pass (whose LM head / score head use follows it).
  virtual void before_model() {}
  virtual void before_layer(int64_t layer) = 0;
  virtual void after_layer(int64_t layer, const at::Tensor& output) = 0;
};

}  // namespace pt::model
