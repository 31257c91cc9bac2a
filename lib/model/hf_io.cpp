// Loading a Hugging Face checkpoint into our decoder: every tensor by the name the architecture's
// table gives it, shape-checked against config.json, copied straight from the memory-mapped files.
#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "core/log.h"
#include "model/causal_lm_impl.h"
#include "gguf/import.h"
#include "model/param_loader.h"
#include "model/safetensors.h"

namespace fs = std::filesystem;

namespace pt::model {

namespace {

at::ScalarType to_scalar(Dtype d, const at::Device& device) {
  switch (d) {
    case Dtype::Float32: return at::kFloat;
    case Dtype::BFloat16: return at::kBFloat16;
    case Dtype::Float16: return at::kHalf;
    case Dtype::Auto: return device.is_cuda() ? at::kBFloat16 : at::kFloat;
  }
  return at::kFloat;
}

}  // namespace

const char* dtype_json_name(at::ScalarType t) {
  switch (t) {
    case at::kBFloat16: return "bfloat16";
    case at::kHalf: return "float16";
    default: return "float32";
  }
}


namespace {

// config.json, or the one model.init describes (with its architecture's model_type).
HfConfig read_config(const ModelOptions& opts) {
  if (!opts.init) return HfConfig::from_file((fs::path(opts.path) / "config.json").string());
  const auto& i = *opts.init;
  nlohmann::json j{{"architectures", {i.architecture}},
                   {"vocab_size", i.vocab_size},
                   {"hidden_size", i.hidden_size},
                   {"intermediate_size", i.intermediate_size},
                   {"num_hidden_layers", i.num_hidden_layers},
                   {"num_attention_heads", i.num_attention_heads},
                   {"num_key_value_heads", i.num_key_value_heads},
                   {"max_position_embeddings", i.max_position_embeddings},
                   {"rope_theta", i.rope_theta},
                   {"rms_norm_eps", i.rms_norm_eps},
                   {"initializer_range", i.initializer_range},
                   {"tie_word_embeddings", i.tie_word_embeddings},
                   {"hidden_act", "silu"},
                   {"torch_dtype", "float32"},
                   {"model_type", find_architecture(i.architecture).model_type}};
  if (i.head_dim > 0) j["head_dim"] = i.head_dim;
  if (i.bos_token_id) j["bos_token_id"] = *i.bos_token_id;
  if (i.eos_token_id) j["eos_token_id"] = *i.eos_token_id;
  if (i.pad_token_id) j["pad_token_id"] = *i.pad_token_id;
  return HfConfig::from_json(j, "model.init");
}

// Every split dimension divides by the group size: each rank computes whole heads and an even
// share of every width and of the padded vocabulary.
void check_tensor_parallel(const HfConfig& c, const ModelOptions& opts, int64_t padded_vocab, int n) {
  auto divisible = [&](const char* what, int64_t v, const char* fix) {
    if (v % n != 0)
      fail("parallel.tensor_parallel = {}: {} has {} = {}, which does not divide by {} ({})", n,
           opts.path.empty() ? "model.init" : opts.path, what, v, n, fix);
  };
  divisible("num_attention_heads", c.num_attention_heads, "each rank computes whole heads");
  divisible("num_key_value_heads", c.num_key_value_heads, "each rank keeps whole key/value heads");
  divisible("intermediate_size", c.intermediate_size, "the MLP width is split evenly");
  if (c.num_experts > 0) divisible("moe_intermediate_size", c.moe_intermediate_size, "each expert's width is split evenly");
  if (padded_vocab % n != 0)
    fail("parallel.tensor_parallel = {}: the embedding's {} rows (vocab_size {} padded to model.vocab_pad_multiple = "
         "{}) do not divide by {}; set model.vocab_pad_multiple to a multiple of {}", n, padded_vocab, c.vocab_size,
         opts.vocab_pad_multiple, n, n);
}

Linear load_linear(ParamLoader& load, const std::string& name, int64_t out, int64_t in, bool bias) {
  Linear l;
  l.w = load(name + ".weight", {out, in});
  if (bias) l.b = load(name + ".bias", {out});
  return l;
}

// Decoder layer i's parameters, in the order of the HF module tree.
Layer load_layer(const HfConfig& c, const ArchSpec& arch, ParamLoader& load, int64_t i) {
  const int64_t H = c.hidden_size, Q = c.num_attention_heads * c.head_dim, KV = c.num_key_value_heads * c.head_dim;
  const TensorNames& N = arch.names;
  const std::string p = fmt::format(fmt::runtime(N.layer), i);
  Layer L;
  L.input_norm = load(p + N.input_norm, {H});
  L.post_norm = load(p + N.post_norm, {H});
  if (!N.attn_out_norm.empty()) L.attn_out_norm = load(p + N.attn_out_norm, {H});
  if (!N.ffn_out_norm.empty()) L.ffn_out_norm = load(p + N.ffn_out_norm, {H});
  const bool qkv_bias = arch.qkv_bias || c.attention_bias;
  L.q = load_linear(load, p + N.q, Q, H, qkv_bias);
  L.k = load_linear(load, p + N.k, KV, H, qkv_bias);
  L.v = load_linear(load, p + N.v, KV, H, qkv_bias);
  L.o = load_linear(load, p + N.o, H, Q, c.attention_bias);
  if (arch.qk_norm) {
    L.q_norm = load(p + N.q_norm, {c.head_dim});
    L.k_norm = load(p + N.k_norm, {c.head_dim});
  }
  if (!c.is_moe_layer(i)) {
    L.gate = load_linear(load, p + N.gate, c.intermediate_size, H, c.mlp_bias);
    L.up = load_linear(load, p + N.up, c.intermediate_size, H, c.mlp_bias);
    L.down = load_linear(load, p + N.down, H, c.intermediate_size, c.mlp_bias);
    return L;
  }
  L.router = load(p + N.router, {c.num_experts, H});
  const int64_t EI = c.moe_intermediate_size;
  for (int64_t e = 0; e < c.num_experts; ++e) {
    const std::string x = p + fmt::format(fmt::runtime(N.expert), e);
    const auto module = [&](const std::string& n) { return x + n.substr(n.rfind('.') + 1); };  // mlp.gate_proj -> gate_proj
    Expert E;
    E.gate = load_linear(load, module(N.gate), EI, H, false);
    E.up = load_linear(load, module(N.up), EI, H, false);
    E.down = load_linear(load, module(N.down), H, EI, false);
    L.experts.push_back(std::move(E));
  }
  return L;
}

}  // namespace

std::unique_ptr<CausalLM> CausalLM::from_pretrained(const ModelOptions& opts, at::Device device, const LoadContext& ctx) {
  auto impl = std::make_unique<Impl>();
  impl->opts = opts;
  impl->opts.path = gguf::model_dir(opts.path);  // a GGUF file loads through its converted directory
  impl->device = device;
  impl->cfg = read_config(impl->opts);
  impl->arch = &find_architecture(impl->cfg.architecture);
  if (impl->arch->adapt) impl->arch->adapt(impl->cfg);
  impl->dtype = to_scalar(opts.dtype, device);
  if (opts.attention == AttentionBackend::Flash && !device.is_cuda())
    fail("model.attention 'flash' needs a CUDA device; use sdpa or eager on {}", device.str());
  const HfConfig& c = impl->cfg;
  const int64_t m = opts.vocab_pad_multiple;
  impl->padded_vocab = (c.vocab_size + m - 1) / m * m;
  if (ctx.tp && ctx.tp->size() > 1) {
    check_tensor_parallel(c, opts, impl->padded_vocab, ctx.tp->size());
    impl->tp_group = ctx.tp;
    impl->tp = ctx.tp.get();
    impl->vocab_offset = impl->padded_vocab / ctx.tp->size() * ctx.tp->rank();
  }

  std::unique_ptr<Checkpoint> files;
  if (!opts.init) files = std::make_unique<Checkpoint>(impl->opts.path);
  ParamLoader load(c, *impl->arch, impl->opts.path, files.get(), ctx, impl->tp,
                   at::TensorOptions().dtype(impl->dtype).device(device), impl->base_params);
  impl->embed = load(impl->arch->names.embed, {impl->padded_vocab, c.hidden_size}, true);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) impl->layers.push_back(load_layer(c, *impl->arch, load, i));
  impl->final_norm = load(impl->arch->names.final_norm, {c.hidden_size});
  load_heads(*impl, load);
  load.warn_unused();
  impl->inv_freq = rope_inv_freq(c, device);
  if (c.rope_local_theta > 0) impl->inv_freq_local = rope_inv_freq_plain(c.rope_local_theta, c.head_dim, device);

  if (opts.lora) {
    attach_lora(*impl, *opts.lora);
  } else {
    for (auto& [n, t] : impl->base_params) t.requires_grad_(true);
  }
  return std::unique_ptr<CausalLM>(new CausalLM(std::move(impl)));
}

}  // namespace pt::model
