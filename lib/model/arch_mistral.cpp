// MistralForCausalLM: the Llama layout. Sliding-window attention is not implemented; the decoder
// refuses documents longer than the window rather than silently attending too far.
#include "model/arch.h"

namespace pt::model {

static void adapt_mistral(HfConfig& c) {
  const auto& sw = c.raw.contains("sliding_window") ? c.raw["sliding_window"] : nlohmann::json();
  if (sw.is_number_integer()) c.sliding_window = sw.get<int64_t>();
}

const ArchSpec& arch_mistral() {
  static const ArchSpec spec{"MistralForCausalLM", "mistral", "Mistral: Llama layout with GQA and sliding-window attention",
                             false, false, adapt_mistral};
  return spec;
}

}  // namespace pt::model
