// Gemma3ForCausalLM (text; model_type gemma3_text): the Llama layout with
//  - RMSNorm that scales by (1 + w) in fp32 before casting back, on q and k per head too;
//  - "sandwich" norms: the attention output and the MLP output are normalized before their residual
//    add (post_attention_layernorm, post_feedforward_layernorm); the MLP input norm is
//    pre_feedforward_layernorm;
//  - embeddings multiplied by sqrt(hidden_size), GELU (tanh) in the MLP, attention scaled by
//    query_pre_attn_scalar^-1/2;
//  - sliding-window layers and global layers (layer_types, or every sliding_window_pattern-th layer
//    global), the windowed ones with their own plain RoPE base (rope_local_base_freq), the global
//    ones with rope_theta and its scaling.
#include <cmath>

#include "core/error.h"
#include "model/arch.h"

namespace pt::model {

static void adapt_gemma3(HfConfig& c) {
  const auto& j = c.raw;
  const std::string origin = "Gemma3 config";
  for (const char* k : {"final_logit_softcapping", "attn_logit_softcapping"})
    if (j.contains(k) && !j[k].is_null())
      fail("{}: {} is set; logit soft-capping is not supported (Gemma 3 checkpoints leave it null)", origin, k);
  if (j.value("use_bidirectional_attention", false))
    fail("{}: use_bidirectional_attention (encoder-style Gemma 3) is not supported", origin);
  c.hidden_act = j.contains("hidden_activation") && j["hidden_activation"].is_string()
                     ? j["hidden_activation"].get<std::string>()
                     : "gelu_pytorch_tanh";
  if (c.hidden_act != "gelu_pytorch_tanh")
    fail("{}: hidden_activation '{}' is not supported (expected gelu_pytorch_tanh)", origin, c.hidden_act);
  c.norm_plus_one = true;
  c.embed_scale = std::sqrt(static_cast<double>(c.hidden_size));
  const double qs = j.contains("query_pre_attn_scalar") && j["query_pre_attn_scalar"].is_number()
                        ? j["query_pre_attn_scalar"].get<double>()
                        : 256.0;
  c.attn_scale = 1.0 / std::sqrt(qs);
  const int64_t window = j.contains("sliding_window") && j["sliding_window"].is_number_integer()
                             ? j["sliding_window"].get<int64_t>()
                             : 4096;
  c.sliding_window = 0;
  c.layer_window.assign(static_cast<size_t>(c.num_hidden_layers), 0);
  if (j.contains("layer_types") && j["layer_types"].is_array()) {
    if (j["layer_types"].size() != static_cast<size_t>(c.num_hidden_layers))
      fail("{}: layer_types has {} entries for {} layers", origin, j["layer_types"].size(), c.num_hidden_layers);
    for (size_t i = 0; i < c.layer_window.size(); ++i) {
      const std::string t = j["layer_types"][i].is_string() ? j["layer_types"][i].get<std::string>() : "";
      if (t != "sliding_attention" && t != "full_attention")
        fail("{}: layer_types[{}] = '{}' (expected sliding_attention or full_attention)", origin, i, t);
      if (t == "sliding_attention") c.layer_window[i] = window;
    }
  } else {
    const int64_t pattern = j.value("sliding_window_pattern", int64_t{6});
    for (size_t i = 0; i < c.layer_window.size(); ++i)
      if ((static_cast<int64_t>(i) + 1) % pattern != 0) c.layer_window[i] = window;
  }
  // RoPE: transformers 5 writes one settings object per layer type; 4.x wrote rope_theta,
  // rope_scaling (global layers) and rope_local_base_freq.
  c.rope_local_theta = 10000.0;
  c.rope_theta = 1000000.0;
  c.rope_scaling = RopeScaling{};
  const auto& rp = j.contains("rope_parameters") && j["rope_parameters"].is_object() ? j["rope_parameters"] : nlohmann::json();
  if (rp.contains("full_attention")) {
    parse_rope_parameters(rp["full_attention"], c, origin + " rope_parameters.full_attention");
    if (rp.contains("sliding_attention")) {
      const auto& s = rp["sliding_attention"];
      const std::string type = s.value("rope_type", std::string("default"));
      if (type != "default")
        fail("{}: rope_parameters.sliding_attention.rope_type '{}' is not supported (expected default)", origin, type);
      if (s.contains("rope_theta") && s["rope_theta"].is_number()) c.rope_local_theta = s["rope_theta"].get<double>();
    }
  } else {
    if (j.contains("rope_theta") && j["rope_theta"].is_number()) c.rope_theta = j["rope_theta"].get<double>();
    if (j.contains("rope_scaling") && j["rope_scaling"].is_object()) parse_rope_parameters(j["rope_scaling"], c, origin);
    else if (!rp.is_null()) parse_rope_parameters(rp, c, origin);
    if (j.contains("rope_local_base_freq") && j["rope_local_base_freq"].is_number())
      c.rope_local_theta = j["rope_local_base_freq"].get<double>();
  }
}

const ArchSpec& arch_gemma3() {
  static const ArchSpec spec = [] {
    ArchSpec s{"Gemma3ForCausalLM", "gemma3_text",
               "Gemma 3 (text): sandwich (1 + w) RMSNorms, scaled embeddings, GELU, sliding-window and global layers",
               false, true, adapt_gemma3};
    s.names.post_norm = "pre_feedforward_layernorm.weight";
    s.names.attn_out_norm = "post_attention_layernorm.weight";
    s.names.ffn_out_norm = "post_feedforward_layernorm.weight";
    return s;
  }();
  return spec;
}

}  // namespace pt::model
