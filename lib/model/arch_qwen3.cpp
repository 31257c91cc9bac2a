// Qwen3ForCausalLM: the Llama layout with per-head RMSNorm on q and k (before RoPE), explicit
// head_dim, no projection biases.
#include "model/arch.h"

namespace pt::model {

const ArchSpec& arch_qwen3() {
  static const ArchSpec spec{"Qwen3ForCausalLM", "qwen3", "Qwen3 dense: GQA with per-head q/k RMSNorm, explicit head_dim",
                             false, true, adapt_qwen_sliding_layers};
  return spec;
}

}  // namespace pt::model
