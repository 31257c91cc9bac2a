#pragma once
// The fields of a Hugging Face config.json that the Llama-family decoders read.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pt::model {

struct RopeScaling {
  std::string type;  // "" (none), "llama3", "linear", "yarn", "dynamic"
  double factor = 1.0;
  // yarn: the ramp between extrapolated and interpolated frequencies, and the cos/sin scaling.
  double beta_fast = 32, beta_slow = 1;
  bool truncate = true;
  double attention_factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct HfConfig {
  std::string architecture;  // e.g. "Qwen3ForCausalLM" (a *ForSequenceClassification class maps to its decoder's)
  std::string hf_class;      // config.json's architectures[0] as written
  // *ForSequenceClassification: a `score` head [num_labels, hidden] read at each sequence's last
  // token (reward models, classifiers) instead of (or besides) the LM head.
  bool sequence_classification = false;
  // *ForTokenClassification: a `score` head (with a bias unless token_classification_bias is false)
  // applied at every token, after dropout (classifier_dropout, else hidden_dropout, else 0.1) in training.
  bool token_classification = false;
  bool score_bias = true;
  double classifier_dropout = 0.1;
  int64_t num_labels = 0;
  std::string model_type;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v/o biases (Qwen2 has q/k/v bias regardless)
  bool mlp_bias = false;
  std::string hidden_act = "silu";
  std::optional<int64_t> bos_token_id, eos_token_id, pad_token_id;
  std::string torch_dtype;
  int64_t sliding_window = 0;  // 0 = none (Mistral sets it)
  // Gemma 3 style, set by the architecture: RMSNorm scaling by (1 + w) in fp32, embeddings times
  // embed_scale, attention scaled by attn_scale (0 = 1/sqrt(head_dim)), a window per layer (0 =
  // global; empty = sliding_window everywhere), and windowed layers with their own plain RoPE base.
  bool norm_plus_one = false;
  double embed_scale = 1.0;
  double attn_scale = 0;
  std::vector<int64_t> layer_window;
  double rope_local_theta = 0;  // 0 = every layer uses rope_theta / rope_scaling
  // Mixture of experts (Qwen3-MoE): layers listed in moe_layers route each token to its top
  // experts_per_token of num_experts SwiGLU experts of width moe_intermediate_size.
  int64_t num_experts = 0, experts_per_token = 0, moe_intermediate_size = 0;
  bool norm_topk_prob = false;
  std::vector<bool> moe_layers;
  bool is_moe_layer(int64_t layer) const {
    return !moe_layers.empty() && moe_layers[static_cast<size_t>(layer)];
  }
  nlohmann::json raw;  // the whole file, re-emitted on save with our edits

  int64_t window_of(int64_t layer) const {
    return layer_window.empty() ? sliding_window : layer_window[static_cast<size_t>(layer)];
  }

  static HfConfig from_file(const std::string& path);
  static HfConfig from_json(const nlohmann::json& j, const std::string& origin);
  // Dense count, unpadded vocab; mixture-of-experts layers count the parameters one token uses.
  int64_t num_parameters(bool include_embeddings = true) const;
};

// Reads one rope settings object (rope_parameters / rope_scaling style) into c.rope_theta and
// c.rope_scaling.
void parse_rope_parameters(const nlohmann::json& r, HfConfig& c, const std::string& origin);

}  // namespace pt::model
