// Qwen2ForCausalLM: the Llama layout with biases on the q/k/v projections (not on o).
#include "model/arch.h"

namespace pt::model {

const ArchSpec& arch_qwen2() {
  static const ArchSpec spec{"Qwen2ForCausalLM", "Qwen2/2.5: GQA with q/k/v projection biases", true, false, nullptr};
  return spec;
}

}  // namespace pt::model
