// LlamaForCausalLM: Llama 2, 3, 3.1, 3.2 (llama3 RoPE scaling via HfConfig), GQA, optional tied
// embeddings, optional attention/MLP biases.
#include "model/arch.h"

namespace pt::model {

const ArchSpec& arch_llama() {
  static const ArchSpec spec{"LlamaForCausalLM", "llama", "Llama 2/3/3.1/3.2: GQA, llama3 RoPE scaling, tied embeddings",
                             false, false, nullptr};
  return spec;
}

}  // namespace pt::model
