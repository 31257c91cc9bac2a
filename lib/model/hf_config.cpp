#include "model/hf_config.h"

#include <cmath>

#include <fstream>

#include "core/error.h"
#include "core/text.h"

namespace pt::model {

HfConfig HfConfig::from_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("cannot open model config '{}'", path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: invalid JSON: {}", path, e.what());
  }
  return from_json(j, path);
}

void parse_rope_parameters(const nlohmann::json& r, HfConfig& c, const std::string& origin) {
  const auto& j = c.raw;
  std::string type = r.contains("rope_type") ? r["rope_type"].get<std::string>()
                     : r.contains("type")    ? r["type"].get<std::string>()
                                             : "default";
  if (r.contains("rope_theta") && r["rope_theta"].is_number()) c.rope_theta = r["rope_theta"].get<double>();
  if (type == "default") type = "";
  if (!type.empty() && type != "llama3" && type != "linear" && type != "yarn" && type != "dynamic")
    fail("{}: rope type '{}' is not supported (expected default, llama3, linear, yarn or dynamic)", origin, type);
  c.rope_scaling.type = type;
  if (r.contains("factor") && r["factor"].is_number()) c.rope_scaling.factor = r["factor"].get<double>();
  if (r.contains("low_freq_factor")) c.rope_scaling.low_freq_factor = r["low_freq_factor"].get<double>();
  if (r.contains("high_freq_factor")) c.rope_scaling.high_freq_factor = r["high_freq_factor"].get<double>();
  if (r.contains("original_max_position_embeddings"))
    c.rope_scaling.original_max_position_embeddings = r["original_max_position_embeddings"].get<int64_t>();
  else if (type == "yarn" && j.contains("original_max_position_embeddings") && j["original_max_position_embeddings"].is_number_integer())
    c.rope_scaling.original_max_position_embeddings = j["original_max_position_embeddings"].get<int64_t>();
  else if (type == "yarn")
    c.rope_scaling.original_max_position_embeddings = c.max_position_embeddings;
  if (type == "yarn") {
    // As transformers' _compute_yarn_parameters.
    auto& y = c.rope_scaling;
    if (!r.contains("factor") || !r["factor"].is_number())
      y.factor = static_cast<double>(c.max_position_embeddings) / static_cast<double>(y.original_max_position_embeddings);
    auto num = [&](const char* k, double d) { return r.contains(k) && r[k].is_number() ? r[k].get<double>() : d; };
    y.beta_fast = num("beta_fast", 32);
    y.beta_slow = num("beta_slow", 1);
    if (y.beta_fast == 0) y.beta_fast = 32;
    if (y.beta_slow == 0) y.beta_slow = 1;
    y.truncate = r.value("truncate", true);
    auto get_mscale = [](double scale, double m) { return scale <= 1 ? 1.0 : 0.1 * m * std::log(scale) + 1.0; };
    const double mscale = num("mscale", 0), mscale_all = num("mscale_all_dim", 0);
    if (r.contains("attention_factor") && r["attention_factor"].is_number()) y.attention_factor = r["attention_factor"].get<double>();
    else if (mscale != 0 && mscale_all != 0) y.attention_factor = get_mscale(y.factor, mscale) / get_mscale(y.factor, mscale_all);
    else y.attention_factor = get_mscale(y.factor, 1);
  }
}

HfConfig HfConfig::from_json(const nlohmann::json& j, const std::string& origin) {
  if (!j.is_object()) fail("{}: expected a JSON object", origin);
  HfConfig c;
  c.raw = j;
  auto int_field = [&](const char* key, int64_t& out, bool required) {
    if (j.contains(key) && !j[key].is_null()) {
      if (!j[key].is_number_integer() || j[key].get<int64_t>() < 0)
        fail("{}: '{}' must be a non-negative integer", origin, key);
      out = j[key].get<int64_t>();
    } else if (required) {
      fail("{}: missing required integer '{}'", origin, key);
    }
  };
  auto num_field = [&](const char* key, double& out) {
    if (j.contains(key) && !j[key].is_null()) {
      if (!j[key].is_number()) fail("{}: '{}' must be a number", origin, key);
      out = j[key].get<double>();
    }
  };
  auto bool_field = [&](const char* key, bool& out) {
    if (j.contains(key) && !j[key].is_null()) {
      if (!j[key].is_boolean()) fail("{}: '{}' must be true or false", origin, key);
      out = j[key].get<bool>();
    }
  };
  auto opt_id = [&](const char* key, std::optional<int64_t>& out) {
    if (!j.contains(key) || j[key].is_null()) return;
    // eos_token_id may be a list (Llama 3.1); the first is the canonical one.
    const auto& v = j[key].is_array() && !j[key].empty() ? j[key][0] : j[key];
    if (v.is_number_integer()) out = v.get<int64_t>();
  };
  if (!j.contains("architectures") || !j["architectures"].is_array() || j["architectures"].empty() ||
      !j["architectures"][0].is_string())
    fail("{}: missing 'architectures' (a list naming the model class)", origin);
  c.architecture = j["architectures"][0].get<std::string>();
  c.hf_class = c.architecture;
  for (const std::string cls : {"ForSequenceClassification", "ForTokenClassification"}) {
    if (c.architecture.size() == cls.size() || !ends_with(c.architecture, cls)) continue;
    (cls == "ForTokenClassification" ? c.token_classification : c.sequence_classification) = true;
    c.architecture = c.architecture.substr(0, c.architecture.size() - cls.size()) + "ForCausalLM";
    // transformers stores the label count through id2label (num_labels is derived from it).
    if (j.contains("id2label") && j["id2label"].is_object()) c.num_labels = static_cast<int64_t>(j["id2label"].size());
    else if (j.contains("num_labels") && j["num_labels"].is_number_integer()) c.num_labels = j["num_labels"].get<int64_t>();
    else c.num_labels = 2;  // transformers' default
    if (c.token_classification) {
      c.score_bias = j.value("token_classification_bias", true);
      if (j.contains("classifier_dropout") && j["classifier_dropout"].is_number()) c.classifier_dropout = j["classifier_dropout"].get<double>();
      else if (j.contains("hidden_dropout") && j["hidden_dropout"].is_number()) c.classifier_dropout = j["hidden_dropout"].get<double>();
    }
  }
  if (j.contains("model_type") && j["model_type"].is_string()) c.model_type = j["model_type"].get<std::string>();
  int_field("vocab_size", c.vocab_size, true);
  int_field("hidden_size", c.hidden_size, true);
  int_field("intermediate_size", c.intermediate_size, true);
  int_field("num_hidden_layers", c.num_hidden_layers, true);
  int_field("num_attention_heads", c.num_attention_heads, true);
  c.num_key_value_heads = c.num_attention_heads;
  int_field("num_key_value_heads", c.num_key_value_heads, false);
  int_field("max_position_embeddings", c.max_position_embeddings, false);
  if (c.num_attention_heads == 0 || c.hidden_size == 0) fail("{}: hidden_size and num_attention_heads must be > 0", origin);
  c.head_dim = c.hidden_size / c.num_attention_heads;
  int_field("head_dim", c.head_dim, false);
  if (c.num_key_value_heads == 0 || c.num_attention_heads % c.num_key_value_heads != 0)
    fail("{}: num_attention_heads ({}) must be a multiple of num_key_value_heads ({})", origin, c.num_attention_heads,
         c.num_key_value_heads);
  num_field("rms_norm_eps", c.rms_norm_eps);
  num_field("rope_theta", c.rope_theta);
  bool_field("tie_word_embeddings", c.tie_word_embeddings);
  bool_field("attention_bias", c.attention_bias);
  bool_field("mlp_bias", c.mlp_bias);
  if (j.contains("hidden_act") && j["hidden_act"].is_string()) c.hidden_act = j["hidden_act"].get<std::string>();
  if (c.hidden_act != "silu" && c.hidden_act != "gelu_pytorch_tanh")
    fail("{}: hidden_act '{}' is not supported (expected silu or gelu_pytorch_tanh)", origin, c.hidden_act);
  opt_id("bos_token_id", c.bos_token_id);
  opt_id("eos_token_id", c.eos_token_id);
  opt_id("pad_token_id", c.pad_token_id);
  if (j.contains("torch_dtype") && j["torch_dtype"].is_string()) c.torch_dtype = j["torch_dtype"].get<std::string>();
  else if (j.contains("dtype") && j["dtype"].is_string()) c.torch_dtype = j["dtype"].get<std::string>();

  // transformers 5 keeps rope settings under rope_parameters; 4.x under rope_scaling + rope_theta.
  const nlohmann::json* rs = nullptr;
  if (j.contains("rope_parameters") && j["rope_parameters"].is_object()) rs = &j["rope_parameters"];
  else if (j.contains("rope_scaling") && j["rope_scaling"].is_object()) rs = &j["rope_scaling"];
  // Per-layer-type rope (Gemma 3: {full_attention: ..., sliding_attention: ...}) is read by the architecture.
  if (rs && !rs->contains("full_attention")) parse_rope_parameters(*rs, c, origin);
  return c;
}

int64_t HfConfig::num_parameters(bool include_embeddings) const {
  int64_t h = hidden_size, q = num_attention_heads * head_dim, kv = num_key_value_heads * head_dim;
  int64_t attn = h * q + 2 * h * kv + q * h;
  int64_t total = h;
  for (int64_t l = 0; l < num_hidden_layers; ++l) {
    // A mixture-of-experts layer counts what one token uses: the router and its top experts.
    const int64_t mlp = is_moe_layer(l) ? h * num_experts + experts_per_token * 3 * h * moe_intermediate_size
                                        : 3 * h * intermediate_size;
    total += attn + mlp + 2 * h;
  }
  if (include_embeddings) total += vocab_size * h * (tie_word_embeddings ? 1 : 2);
  return total;
}

}  // namespace pt::model
