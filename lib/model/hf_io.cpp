// Loading a Hugging Face checkpoint into our decoder: every tensor by the name the architecture's
// table gives it, shape-checked against config.json, copied straight from the memory-mapped files.
#include <algorithm>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "core/log.h"
#include "model/causal_lm_impl.h"
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


std::unique_ptr<CausalLM> CausalLM::from_pretrained(const ModelOptions& opts, at::Device device) {
  auto impl = std::make_unique<Impl>();
  impl->opts = opts;
  impl->device = device;
  if (opts.init) {
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
                     {"model_type", i.architecture.rfind("Gemma3", 0) == 0  ? "gemma3_text"
                                    : i.architecture.rfind("Qwen3", 0) == 0   ? "qwen3"
                                    : i.architecture.rfind("Qwen2", 0) == 0 ? "qwen2"
                                    : i.architecture.rfind("Mistral", 0) == 0 ? "mistral"
                                                                             : "llama"}};
    if (i.head_dim > 0) j["head_dim"] = i.head_dim;
    impl->cfg = HfConfig::from_json(j, "model.init");
  } else {
    impl->cfg = HfConfig::from_file((fs::path(opts.path) / "config.json").string());
  }
  impl->arch = &find_architecture(impl->cfg.architecture);
  if (impl->arch->adapt) impl->arch->adapt(impl->cfg);
  impl->dtype = to_scalar(opts.dtype, device);
  if (opts.attention == AttentionBackend::Flash && !device.is_cuda())
    fail("model.attention 'flash' needs a CUDA device; use sdpa or eager on {}", device.str());
  const HfConfig& c = impl->cfg;
  const int64_t m = opts.vocab_pad_multiple;
  impl->padded_vocab = (c.vocab_size + m - 1) / m * m;
  TpGroup* tp = opts.tp && opts.tp->size() > 1 ? opts.tp.get() : nullptr;
  if (tp) {
    const int n = tp->size();
    auto divisible = [&](const char* what, int64_t v, const char* fix) {
      if (v % n != 0)
        fail("parallel.tensor_parallel = {}: {} has {} = {}, which does not divide by {} ({})", n, opts.path.empty() ? "model.init" : opts.path, what, v, n, fix);
    };
    divisible("num_attention_heads", c.num_attention_heads, "each rank computes whole heads");
    divisible("num_key_value_heads", c.num_key_value_heads, "each rank keeps whole key/value heads");
    divisible("intermediate_size", c.intermediate_size, "the MLP width is split evenly");
    if (c.num_experts > 0) divisible("moe_intermediate_size", c.moe_intermediate_size, "each expert's width is split evenly");
    if (impl->padded_vocab % n != 0)
      fail("parallel.tensor_parallel = {}: the embedding's {} rows (vocab_size {} padded to model.vocab_pad_multiple = "
           "{}) do not divide by {}; set model.vocab_pad_multiple to a multiple of {}", n, impl->padded_vocab,
           c.vocab_size, m, n, n);
    impl->tp = tp;
    impl->vocab_offset = impl->padded_vocab / n * tp->rank();
  }

  std::unique_ptr<Checkpoint> source;
  if (!opts.init) source = std::make_unique<Checkpoint>(opts.path);
  Checkpoint* ckptp = source.get();
  auto topts = at::TensorOptions().dtype(impl->dtype).device(device);
  std::map<std::string, bool> used;
  // Creates the parameter empty and fills it straight from the mapped file: conversion happens in
  // copy_, so no full-size intermediate copy exists on the host.
  auto load = [&](const std::string& name, std::vector<int64_t> shape, bool pad_rows = false) -> at::Tensor {
    if (!ckptp) {
      // model.init: transformers' initialization (normal with initializer_range; norms 1, biases 0).
      const double std = c.raw.value("initializer_range", 0.02);
      // Gemma's (1 + w) norms start at w = 0.
      at::Tensor t = name.find("norm") != std::string::npos ? (c.norm_plus_one ? at::zeros(shape, topts) : at::ones(shape, topts))
                     : name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0
                         ? at::zeros(shape, topts)
                         : at::empty(shape, topts).normal_(0, std);
      if (pad_rows && shape[0] > c.vocab_size) {
        at::NoGradGuard ng;
        t.narrow(0, c.vocab_size, shape[0] - c.vocab_size).zero_();
      }
      // The whole tensor is drawn first, so a split model starts from the same weights as a whole one.
      if (const int dim = tp ? model::tp_split_dim(*impl->arch, name) : -1; dim >= 0) t = tp_slice(t, dim, *tp);
      used[name] = true;
      impl->base_params.emplace_back(name, t);
      return t;
    }
    Checkpoint& ckpt = *ckptp;
    std::vector<int64_t> expect = shape;  // as stored: the file's vocabulary, without padding rows
    if (pad_rows) expect[0] = c.vocab_size;
    if (ckpt.contains(name) && ckpt.file_of(name).info(name).shape != expect)
      fail("{}: tensor '{}' has shape [{}] but config.json implies [{}]", opts.path, name,
           fmt::join(ckpt.file_of(name).info(name).shape, ", "), fmt::join(expect, ", "));
    const int dim = tp ? model::tp_split_dim(*impl->arch, name) : -1;
    std::vector<int64_t> local = shape;  // this rank's slice under tensor parallelism
    if (dim >= 0) local[dim] /= tp->size();
    if (opts.defer_param && opts.defer_param(name)) {
      // Shape only: the storage stays empty until the strategy gives the tensor its memory (from
      // these files — padding rows as zeros —, or from its own shards when the files leave it out).
      at::Tensor t = at::empty({0}, topts);
      t.unsafeGetTensorImpl()->set_sizes_contiguous(local);
      used[name] = true;
      impl->base_params.emplace_back(name, t);
      return t;
    }
    if (!ckpt.contains(name)) fail("{}: checkpoint is missing tensor '{}'", opts.path, name);
    at::Tensor t;
    if (dim < 0) {
      t = pad_rows ? at::zeros(shape, topts) : at::empty(shape, topts);
      at::NoGradGuard ng;
      t.narrow(0, 0, expect[0]).copy_(ckpt.file_of(name).view(name));
    } else {
      // Only this rank's slice is read from the mapped file (rows past the file's vocabulary are
      // padding: zeros).
      const int64_t begin = local[dim] * tp->rank();
      t = at::zeros(local, topts);
      at::NoGradGuard ng;
      const at::Tensor src = ckpt.file_of(name).view(name);
      const int64_t stored = std::clamp<int64_t>(src.size(dim) - begin, 0, local[dim]);
      if (stored > 0) t.narrow(dim, 0, stored).copy_(src.narrow(dim, begin, stored));
    }
    ckpt.file_of(name).release(name);
    used[name] = true;
    impl->base_params.emplace_back(name, t);
    return t;
  };
  const int64_t H = c.hidden_size, Q = c.num_attention_heads * c.head_dim, KV = c.num_key_value_heads * c.head_dim,
                I = c.intermediate_size;
  const TensorNames& N = impl->arch->names;
  impl->embed = load(N.embed, {impl->padded_vocab, H}, true);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = fmt::format(fmt::runtime(N.layer), i);
    Layer L;
    L.input_norm = load(p + N.input_norm, {H});
    L.post_norm = load(p + N.post_norm, {H});
    if (!N.attn_out_norm.empty()) L.attn_out_norm = load(p + N.attn_out_norm, {H});
    if (!N.ffn_out_norm.empty()) L.ffn_out_norm = load(p + N.ffn_out_norm, {H});
    auto lin = [&](const std::string& n, int64_t out, int64_t in, bool bias) {
      Linear l;
      l.w = load(p + n + ".weight", {out, in});
      if (bias) l.b = load(p + n + ".bias", {out});
      return l;
    };
    bool qkv_bias = impl->arch->qkv_bias || c.attention_bias;
    L.q = lin(N.q, Q, H, qkv_bias);
    L.k = lin(N.k, KV, H, qkv_bias);
    L.v = lin(N.v, KV, H, qkv_bias);
    L.o = lin(N.o, H, Q, c.attention_bias);
    if (impl->arch->qk_norm) {
      L.q_norm = load(p + N.q_norm, {c.head_dim});
      L.k_norm = load(p + N.k_norm, {c.head_dim});
    }
    if (c.is_moe_layer(i)) {
      L.router = load(p + N.router, {c.num_experts, H});
      const int64_t EI = c.moe_intermediate_size;
      for (int64_t e = 0; e < c.num_experts; ++e) {
        const std::string x = fmt::format(fmt::runtime(N.expert), e);
        const auto module = [&](const std::string& n) { return x + n.substr(n.rfind('.') + 1); };  // mlp.gate_proj -> gate_proj
        Expert E;
        E.gate = lin(module(N.gate), EI, H, false);
        E.up = lin(module(N.up), EI, H, false);
        E.down = lin(module(N.down), H, EI, false);
        L.experts.push_back(std::move(E));
      }
    } else {
      L.gate = lin(N.gate, I, H, c.mlp_bias);
      L.up = lin(N.up, I, H, c.mlp_bias);
      L.down = lin(N.down, H, I, c.mlp_bias);
    }
    impl->layers.push_back(std::move(L));
  }
  impl->final_norm = load(N.final_norm, {H});
  const bool classifier = c.sequence_classification || c.token_classification;
  if (c.tie_word_embeddings) impl->lm_head = impl->embed;
  else if (!classifier || (ckptp && ckptp->contains(N.lm_head))) impl->lm_head = load(N.lm_head, {impl->padded_vocab, H}, true);
  const std::string score_bias_name = N.score.substr(0, N.score.size() - std::string("weight").size()) + "bias";
  if (classifier) impl->score = load(N.score, {c.num_labels, H});
  if (c.token_classification && c.score_bias) impl->score_bias = load(score_bias_name, {c.num_labels});
  // The projection head lives beside the HF files (it has no transformers layout).
  const fs::path proj_file = opts.init ? fs::path() : fs::path(opts.path) / kProjectionFile;
  if (!opts.init && fs::exists(proj_file)) {
    // A directory that carries its head is loaded with it (as a classifier checkpoint is).
    if (opts.head.type != HeadType::Projection && opts.head.type != HeadType::None)
      fail("{} has a projection head ({}) but model.head.type is {}", opts.path, kProjectionFile,
           opts.head.type == HeadType::TokenClassification ? "token_classification" : "sequence_classification");
    SafetensorsFile f(proj_file.string());
    if (!f.contains(kProjectionName)) fail("{}: missing tensor '{}'", proj_file.string(), kProjectionName);
    auto src = f.view(kProjectionName);
    const int64_t outputs = opts.head.type == HeadType::Projection ? opts.head.num_labels : src.size(0);
    if (src.dim() != 2 || src.size(1) != H || src.size(0) != outputs)
      fail("{}: '{}' has shape [{}], expected [{}, {}] (model.head.num_labels, hidden_size)", proj_file.string(),
           kProjectionName, fmt::join(src.sizes(), ", "), outputs, H);
    impl->projection = at::empty({outputs, H}, topts);
    {
      at::NoGradGuard ng;
      impl->projection.copy_(src);
    }
    impl->base_params.emplace_back(kProjectionName, impl->projection);
  } else if (opts.head.type == HeadType::Projection) {
    const double std = c.raw.value("initializer_range", 0.02);
    impl->projection = at::empty({opts.head.num_labels, H}, topts).normal_(0, std);
    impl->base_params.emplace_back(kProjectionName, impl->projection);
  }
  if (opts.head.type == HeadType::Projection && classifier)
    fail("model.head.type = projection but {} is a {}", opts.path, c.hf_class);
  if (opts.head.type != HeadType::None && opts.head.type != HeadType::Projection) {
    const bool token = opts.head.type == HeadType::TokenClassification;
    const char* want = token ? "token_classification" : "sequence_classification";
    if ((token && c.sequence_classification) || (!token && c.token_classification))
      fail("model.head.type = {} but {} is a {}", want, opts.path, c.hf_class);
    if (classifier && c.num_labels != opts.head.num_labels)
      fail("model.head.num_labels = {} but {} is a classifier with {} labels", opts.head.num_labels, opts.path,
           c.num_labels);
    if (!classifier) {
      // A new head, initialized as transformers does (normal, std = initializer_range; bias 0), and
      // the config it is saved with.
      const double std = c.raw.value("initializer_range", 0.02);
      impl->score = at::empty({opts.head.num_labels, H}, topts).normal_(0, std);
      impl->base_params.emplace_back(N.score, impl->score);
      if (token) {
        impl->score_bias = at::zeros({opts.head.num_labels}, topts);
        impl->base_params.emplace_back(score_bias_name, impl->score_bias);
      }
      (token ? impl->cfg.token_classification : impl->cfg.sequence_classification) = true;
      impl->cfg.num_labels = opts.head.num_labels;
      const std::string base = c.architecture.substr(0, c.architecture.size() - std::string("ForCausalLM").size());
      impl->cfg.hf_class = base + (token ? "ForTokenClassification" : "ForSequenceClassification");
      auto& raw = impl->cfg.raw;
      raw["architectures"] = nlohmann::json::array({impl->cfg.hf_class});
      nlohmann::json id2label = nlohmann::json::object(), label2id = nlohmann::json::object();
      for (int i = 0; i < opts.head.num_labels; ++i) {
        id2label[std::to_string(i)] = fmt::format("LABEL_{}", i);
        label2id[fmt::format("LABEL_{}", i)] = i;
      }
      raw["id2label"] = id2label;
      raw["label2id"] = label2id;
      if (opts.head.num_labels == 1) raw["problem_type"] = "regression";
      if (token) raw["classifier_dropout"] = impl->cfg.classifier_dropout;
      if (!raw.contains("pad_token_id") || raw["pad_token_id"].is_null()) raw["pad_token_id"] = c.eos_token_id.value_or(0);
    }
  }
  if (ckptp)
    for (const auto& n : ckptp->names())
      if (!used.count(n)) log::warn("{}: ignoring unexpected tensor '{}'", opts.path, n);
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
