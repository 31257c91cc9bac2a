// Qwen2ForCausalLM: the Llama layout with biases on the q/k/v projections (not on o).
#include "core/error.h"
#include "model/arch.h"

namespace pt::model {

void adapt_qwen_sliding_layers(HfConfig& c) {
  // Qwen2/Qwen3: with use_sliding_window, layers from max_window_layers on attend within
  // sliding_window (transformers derives layer_types so; a config may also list them).
  const auto& j = c.raw;
  if (!j.value("use_sliding_window", false)) return;
  if (!j.contains("sliding_window") || !j["sliding_window"].is_number_integer())
    fail("{}: use_sliding_window needs an integer sliding_window", c.hf_class);
  const int64_t window = j["sliding_window"].get<int64_t>();
  c.layer_window.assign(static_cast<size_t>(c.num_hidden_layers), 0);
  const bool listed = j.contains("layer_types") && j["layer_types"].is_array();
  if (listed && j["layer_types"].size() != c.layer_window.size())
    fail("{}: layer_types has {} entries for {} layers", c.hf_class, j["layer_types"].size(), c.num_hidden_layers);
  const int64_t first = j.value("max_window_layers", c.num_hidden_layers);
  for (size_t i = 0; i < c.layer_window.size(); ++i) {
    const bool sliding = listed ? j["layer_types"][i] == "sliding_attention" : static_cast<int64_t>(i) >= first;
    if (sliding) c.layer_window[i] = window;
  }
}

const ArchSpec& arch_qwen2() {
  static const ArchSpec spec{"Qwen2ForCausalLM", "qwen2", "Qwen2/2.5: GQA with q/k/v projection biases", true, false,
                             adapt_qwen_sliding_layers};
  return spec;
}

}  // namespace pt::model
