#include "model/causal_lm.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include <torch/csrc/autograd/custom_function.h>

#include "core/error.h"
#include "core/log.h"
#include "model/arch.h"
#include "model/attention.h"
#include "model/blocks.h"
#include "model/kv_cache.h"
#include "model/safetensors.h"

namespace fs = std::filesystem;

namespace pt::model {

namespace {

struct Lora {
  at::Tensor a;  // [r, in]
  at::Tensor b;  // [out, r]
  double scale = 1.0;
  bool merged = false;
};

struct Linear {
  at::Tensor w;  // [out, in]
  at::Tensor b;  // [out] or undefined
  std::unique_ptr<Lora> lora;
};

struct Layer {
  at::Tensor input_norm, post_norm, q_norm, k_norm;
  Linear q, k, v, o, gate, up, down;
};

at::ScalarType to_scalar(Dtype d, const at::Device& device) {
  switch (d) {
    case Dtype::Float32: return at::kFloat;
    case Dtype::BFloat16: return at::kBFloat16;
    case Dtype::Float16: return at::kHalf;
    case Dtype::Auto: return device.is_cuda() ? at::kBFloat16 : at::kFloat;
  }
  return at::kFloat;
}

const char* dtype_json_name(at::ScalarType t) {
  switch (t) {
    case at::kBFloat16: return "bfloat16";
    case at::kHalf: return "float16";
    default: return "float32";
  }
}

}  // namespace

struct CausalLM::Impl {
  ModelOptions opts;
  HfConfig cfg;
  const ArchSpec* arch = nullptr;
  at::Device device = at::kCPU;
  at::ScalarType dtype = at::kFloat;
  int64_t padded_vocab = 0;
  at::Tensor embed, final_norm, lm_head;  // lm_head aliases embed when tied
  std::vector<Layer> layers;
  std::unique_ptr<Lora> head_lora;   // a: [r, hidden], b: [padded_vocab, r]
  std::unique_ptr<Lora> embed_lora;  // a: [r, padded_vocab], b: [hidden, r] (PEFT's lora_embedding_A/B)
  at::Tensor inv_freq;
  bool training = true;
  bool adapters_on = true;  // off: the base model (a DPO reference without a second copy)
  // Every parameter by its HF name, in a stable order (checkpoints, optimizer state).
  std::vector<std::pair<std::string, at::Tensor>> base_params;
  std::vector<std::pair<std::string, at::Tensor>> lora_params;  // PEFT names

  // --- forward --------------------------------------------------------------------------------
  at::Tensor proj(const at::Tensor& x, const Linear& l) const {
    auto y = at::linear(x, l.w, l.b.defined() ? std::optional<at::Tensor>(l.b) : std::nullopt);
    if (l.lora && !l.lora->merged && adapters_on) {
      auto xin = (training && opts.lora && opts.lora->dropout > 0) ? at::dropout(x, opts.lora->dropout, true) : x;
      y = y + at::linear(at::linear(xin, l.lora->a), l.lora->b) * l.lora->scale;
    }
    return y;
  }

  // x: [N, hidden] -> [N, hidden]
  // kv: null in training (packed documents, no cache); in generation, where this pass's tokens live
  // in the KV cache. The rest of the block is the same code either way.
  at::Tensor block(const Layer& L, const at::Tensor& x, const PackedInput& in, const at::Tensor& cos,
                   const at::Tensor& sin, int64_t layer = 0, KvStep* kv = nullptr) const {
    const int64_t n = x.size(0), hq = cfg.num_attention_heads, hkv = cfg.num_key_value_heads, d = cfg.head_dim;
    auto h = rms_norm(x, L.input_norm, cfg.rms_norm_eps);
    auto q = proj(h, L.q).view({n, hq, d});
    auto k = proj(h, L.k).view({n, hkv, d});
    auto v = proj(h, L.v).view({n, hkv, d});
    if (arch->qk_norm) {
      q = rms_norm(q, L.q_norm, cfg.rms_norm_eps);
      k = rms_norm(k, L.k_norm, cfg.rms_norm_eps);
    }
    q = apply_rope(q, cos, sin);
    k = apply_rope(k, cos, sin);
    const double scale = 1.0 / std::sqrt(static_cast<double>(d));
    auto a = kv ? cached_attention(q, k, v, *kv, layer, scale) : attention(opts.attention, q, k, v, in, scale);  // [N, Hq, D]
    auto x2 = x + proj(a.reshape({n, hq * d}), L.o);
    auto h2 = rms_norm(x2, L.post_norm, cfg.rms_norm_eps);
    auto mlp = proj(at::silu(proj(h2, L.gate)) * proj(h2, L.up), L.down);
    return x2 + mlp;
  }

  at::Tensor hidden(const PackedInput& in, KvStep* kv = nullptr);

  // The LM head the loss sees: W, plus the LoRA delta while unmerged. [padded_vocab, hidden]
  at::Tensor head() const {
    if (head_lora && !head_lora->merged && adapters_on) return lm_head + at::matmul(head_lora->b, head_lora->a) * head_lora->scale;
    return lm_head;
  }
  at::Tensor embed_lookup(const at::Tensor& ids) const {
    auto x = at::embedding(embed, ids);  // [N, hidden]
    if (embed_lora && !embed_lora->merged && adapters_on)
      x = x + at::matmul(at::embedding(embed_lora->a.t(), ids), embed_lora->b.t()) * embed_lora->scale;
    return x;
  }
};

namespace {

// Activation checkpointing: run the block without saving activations, recompute it in backward.
// Parameters are leaves, so the recomputed graph's backward accumulates their .grad directly
// (the reentrant scheme); only the input's gradient flows back through this node.
struct CheckpointedBlock : public torch::autograd::Function<CheckpointedBlock> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, int64_t impl_ptr,
                            int64_t layer, int64_t in_ptr, const at::Tensor& cos, const at::Tensor& sin) {
    auto* impl = reinterpret_cast<const CausalLM::Impl*>(impl_ptr);
    const auto* in = reinterpret_cast<const PackedInput*>(in_ptr);
    ctx->save_for_backward({x, cos, sin});
    ctx->saved_data["impl"] = impl_ptr;
    ctx->saved_data["layer"] = layer;
    ctx->saved_data["in"] = in_ptr;
    return impl->block(impl->layers[layer], x, *in, cos, sin, layer);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    auto saved = ctx->get_saved_variables();
    auto* impl = reinterpret_cast<const CausalLM::Impl*>(ctx->saved_data["impl"].toInt());
    const auto* in = reinterpret_cast<const PackedInput*>(ctx->saved_data["in"].toInt());
    auto x = saved[0].detach().requires_grad_(true);
    at::Tensor out;
    {
      at::AutoGradMode enable(true);
      const int64_t layer = ctx->saved_data["layer"].toInt();
      out = impl->block(impl->layers[layer], x, *in, saved[1], saved[2], layer);
    }
    torch::autograd::backward({out}, {grad_out[0]});
    return {x.grad(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor CausalLM::Impl::hidden(const PackedInput& in, KvStep* kv) {
  const int64_t longest = kv ? kv->max_context : in.max_seqlen;
  if (cfg.sliding_window > 0 && longest > cfg.sliding_window)
    fail("document of {} tokens exceeds the model's sliding_window {}: sliding-window attention is not supported",
         longest, cfg.sliding_window);
  auto ids = in.input_ids.to(device);
  auto pos = in.position_ids.to(device);
  auto x = embed_lookup(ids);  // [N, hidden]
  auto [cos, sin] = rope_cos_sin(inv_freq, pos, dtype);
  const bool ckpt = !kv && opts.activation_checkpointing && at::GradMode::is_enabled();
  // A checkpointed block only joins the graph through its input; with a frozen embedding (LoRA)
  // that input must still require grad or no parameter inside the block would get one.
  if (ckpt && !x.requires_grad()) x = x.detach().requires_grad_(true);
  for (size_t i = 0; i < layers.size(); ++i) {
    if (ckpt)
      x = CheckpointedBlock::apply(x, reinterpret_cast<int64_t>(this), static_cast<int64_t>(i),
                                   reinterpret_cast<int64_t>(&in), cos, sin);
    else
      x = block(layers[i], x, in, cos, sin, static_cast<int64_t>(i), kv);
  }
  return rms_norm(x, final_norm, cfg.rms_norm_eps);
}

CausalLM::CausalLM(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CausalLM::~CausalLM() = default;

std::unique_ptr<CausalLM> CausalLM::from_pretrained(const ModelOptions& opts, at::Device device) {
  auto impl = std::make_unique<Impl>();
  impl->opts = opts;
  impl->device = device;
  impl->cfg = HfConfig::from_file((fs::path(opts.path) / "config.json").string());
  impl->arch = &find_architecture(impl->cfg.architecture);
  if (impl->arch->adapt) impl->arch->adapt(impl->cfg);
  impl->dtype = to_scalar(opts.dtype, device);
  if (opts.attention == AttentionBackend::Flash && !device.is_cuda())
    fail("model.attention 'flash' needs a CUDA device; use sdpa or eager on {}", device.str());
  const HfConfig& c = impl->cfg;
  const int64_t m = opts.vocab_pad_multiple;
  impl->padded_vocab = (c.vocab_size + m - 1) / m * m;

  Checkpoint ckpt(opts.path);
  auto topts = at::TensorOptions().dtype(impl->dtype).device(device);
  std::map<std::string, bool> used;
  // Creates the parameter empty and fills it straight from the mapped file: conversion happens in
  // copy_, so no full-size intermediate copy exists on the host.
  auto load = [&](const std::string& name, std::vector<int64_t> shape, bool pad_rows = false) -> at::Tensor {
    if (!ckpt.contains(name)) fail("{}: checkpoint is missing tensor '{}'", opts.path, name);
    const auto& info = ckpt.file_of(name).info(name);
    std::vector<int64_t> expect = shape;
    if (pad_rows) expect[0] = c.vocab_size;
    if (info.shape != expect)
      fail("{}: tensor '{}' has shape [{}] but config.json implies [{}]", opts.path, name, fmt::join(info.shape, ", "),
           fmt::join(expect, ", "));
    at::Tensor t = pad_rows ? at::zeros(shape, topts) : at::empty(shape, topts);
    {
      at::NoGradGuard ng;
      t.narrow(0, 0, expect[0]).copy_(ckpt.file_of(name).view(name));
    }
    ckpt.file_of(name).release(name);
    used[name] = true;
    impl->base_params.emplace_back(name, t);
    return t;
  };
  const int64_t H = c.hidden_size, Q = c.num_attention_heads * c.head_dim, KV = c.num_key_value_heads * c.head_dim,
                I = c.intermediate_size;
  impl->embed = load("model.embed_tokens.weight", {impl->padded_vocab, H}, true);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    Layer L;
    L.input_norm = load(p + "input_layernorm.weight", {H});
    L.post_norm = load(p + "post_attention_layernorm.weight", {H});
    auto lin = [&](const std::string& n, int64_t out, int64_t in, bool bias) {
      Linear l;
      l.w = load(p + n + ".weight", {out, in});
      if (bias) l.b = load(p + n + ".bias", {out});
      return l;
    };
    bool qkv_bias = impl->arch->qkv_bias || c.attention_bias;
    L.q = lin("self_attn.q_proj", Q, H, qkv_bias);
    L.k = lin("self_attn.k_proj", KV, H, qkv_bias);
    L.v = lin("self_attn.v_proj", KV, H, qkv_bias);
    L.o = lin("self_attn.o_proj", H, Q, c.attention_bias);
    if (impl->arch->qk_norm) {
      L.q_norm = load(p + "self_attn.q_norm.weight", {c.head_dim});
      L.k_norm = load(p + "self_attn.k_norm.weight", {c.head_dim});
    }
    L.gate = lin("mlp.gate_proj", I, H, c.mlp_bias);
    L.up = lin("mlp.up_proj", I, H, c.mlp_bias);
    L.down = lin("mlp.down_proj", H, I, c.mlp_bias);
    impl->layers.push_back(std::move(L));
  }
  impl->final_norm = load("model.norm.weight", {H});
  if (c.tie_word_embeddings) impl->lm_head = impl->embed;
  else impl->lm_head = load("lm_head.weight", {impl->padded_vocab, H}, true);
  for (const auto& n : ckpt.names())
    if (!used.count(n)) log::warn("{}: ignoring unexpected tensor '{}'", opts.path, n);
  impl->inv_freq = rope_inv_freq(c, device);

  if (opts.lora) {
    const auto& lo = *opts.lora;
    auto targeted = [&](const char* m) {
      for (const auto& t : lo.target_modules)
        if (t == m) return true;
      return false;
    };
    if (targeted("lm_head") && c.tie_word_embeddings)
      fail("model.lora.target_modules: 'lm_head' with tied embeddings ({}) would also change the input embedding; "
           "target embed_tokens instead",
           opts.path);
    for (auto& [n, t] : impl->base_params) t.requires_grad_(false);
    auto attach = [&](Linear& l, const std::string& hf_prefix, const std::string& module) {
      bool wanted = false;
      for (const auto& t : lo.target_modules) wanted = wanted || t == module;
      if (!wanted) return;
      auto fopts = at::TensorOptions().dtype(impl->dtype).device(device);
      l.lora = std::make_unique<Lora>();
      const int64_t in = l.w.size(1), out = l.w.size(0);
      // PEFT's default init: A ~ kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)), B = 0, so the
      // adapted model starts exactly at the base model.
      double bound = 1.0 / std::sqrt(static_cast<double>(in));
      l.lora->a = at::empty({lo.rank, in}, fopts).uniform_(-bound, bound).requires_grad_(true);
      l.lora->b = at::zeros({out, lo.rank}, fopts).requires_grad_(true);
      l.lora->scale = lo.alpha / lo.rank;
      std::string base = "base_model.model." + hf_prefix + module;
      impl->lora_params.emplace_back(base + ".lora_A.weight", l.lora->a);
      impl->lora_params.emplace_back(base + ".lora_B.weight", l.lora->b);
    };
    for (size_t i = 0; i < impl->layers.size(); ++i) {
      auto& L = impl->layers[i];
      std::string p = fmt::format("model.layers.{}.", i);
      attach(L.q, p + "self_attn.", "q_proj");
      attach(L.k, p + "self_attn.", "k_proj");
      attach(L.v, p + "self_attn.", "v_proj");
      attach(L.o, p + "self_attn.", "o_proj");
      attach(L.gate, p + "mlp.", "gate_proj");
      attach(L.up, p + "mlp.", "up_proj");
      attach(L.down, p + "mlp.", "down_proj");
    }
    auto fopts = at::TensorOptions().dtype(impl->dtype).device(device);
    if (targeted("embed_tokens")) {
      // PEFT's embedding init is the mirror of the linear one: A = 0, B ~ N(0, 1).
      impl->embed_lora = std::make_unique<Lora>();
      impl->embed_lora->a = at::zeros({lo.rank, impl->padded_vocab}, fopts).requires_grad_(true);
      impl->embed_lora->b = at::randn({H, lo.rank}, fopts).requires_grad_(true);
      impl->embed_lora->scale = lo.alpha / lo.rank;
      impl->lora_params.emplace_back("base_model.model.model.embed_tokens.lora_embedding_A", impl->embed_lora->a);
      impl->lora_params.emplace_back("base_model.model.model.embed_tokens.lora_embedding_B", impl->embed_lora->b);
    }
    if (targeted("lm_head")) {
      double bound = 1.0 / std::sqrt(static_cast<double>(H));
      impl->head_lora = std::make_unique<Lora>();
      impl->head_lora->a = at::empty({lo.rank, H}, fopts).uniform_(-bound, bound).requires_grad_(true);
      impl->head_lora->b = at::zeros({impl->padded_vocab, lo.rank}, fopts).requires_grad_(true);
      impl->head_lora->scale = lo.alpha / lo.rank;
      impl->lora_params.emplace_back("base_model.model.lm_head.lora_A.weight", impl->head_lora->a);
      impl->lora_params.emplace_back("base_model.model.lm_head.lora_B.weight", impl->head_lora->b);
    }
  } else {
    for (auto& [n, t] : impl->base_params) t.requires_grad_(true);
  }
  return std::unique_ptr<CausalLM>(new CausalLM(std::move(impl)));
}

at::Tensor CausalLM::hidden_states(const PackedInput& in, KvStep* kv) { return impl_->hidden(in, kv); }

at::Tensor CausalLM::lm_head_weight() const { return impl_->head(); }

at::Tensor CausalLM::logits(const PackedInput& in) {
  auto h = impl_->hidden(in);
  return at::linear(h, impl_->head()).narrow(1, 0, impl_->cfg.vocab_size);
}

int64_t CausalLM::vocab_size() const { return impl_->cfg.vocab_size; }
int64_t CausalLM::padded_vocab_size() const { return impl_->padded_vocab; }
const HfConfig& CausalLM::config() const { return impl_->cfg; }
at::Device CausalLM::device() const { return impl_->device; }
at::ScalarType CausalLM::dtype() const { return impl_->dtype; }
void CausalLM::train(bool on) { impl_->training = on; }

bool CausalLM::has_adapters() const { return !impl_->lora_params.empty(); }

void CausalLM::set_adapters_enabled(bool on) {
  if (!on) {
    bool merged = impl_->head_lora && impl_->head_lora->merged;
    for (const auto& L : impl_->layers)
      for (const Linear* l : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down}) merged = merged || (l->lora && l->lora->merged);
    PT_CHECK(!merged, "LoRA adapters cannot be switched off while merged into the base weights");
  }
  impl_->adapters_on = on;
}

std::vector<std::pair<std::string, at::Tensor>> CausalLM::named_parameters(bool trainable_only) const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  // Tied LM head appears once (as the embedding).
  if (!trainable_only || !impl_->opts.lora) out = impl_->base_params;
  for (const auto& p : impl_->lora_params) out.push_back(p);
  return out;
}

bool CausalLM::is_decay_param(const std::string& name) const {
  auto ends = [&](const char* s) {
    std::string suf(s);
    return name.size() >= suf.size() && name.compare(name.size() - suf.size(), suf.size(), suf) == 0;
  };
  return !(ends("norm.weight") || ends("layernorm.weight") || ends(".bias"));
}

void CausalLM::merge_lora() {
  at::NoGradGuard ng;
  for (auto& L : impl_->layers)
    for (Linear* l : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down})
      if (l->lora && !l->lora->merged) {
        l->w.add_(at::matmul(l->lora->b, l->lora->a) * l->lora->scale);
        l->lora->merged = true;
      }
  if (auto& h = impl_->head_lora; h && !h->merged) {
    impl_->lm_head.add_(at::matmul(h->b, h->a) * h->scale);
    h->merged = true;
  }
  if (auto& e = impl_->embed_lora; e && !e->merged) {
    impl_->embed.add_(at::matmul(e->b, e->a).t() * e->scale);
    e->merged = true;
  }
}

void CausalLM::unmerge_lora() {
  at::NoGradGuard ng;
  for (auto& L : impl_->layers)
    for (Linear* l : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down})
      if (l->lora && l->lora->merged) {
        l->w.sub_(at::matmul(l->lora->b, l->lora->a) * l->lora->scale);
        l->lora->merged = false;
      }
  if (auto& h = impl_->head_lora; h && h->merged) {
    impl_->lm_head.sub_(at::matmul(h->b, h->a) * h->scale);
    h->merged = false;
  }
  if (auto& e = impl_->embed_lora; e && e->merged) {
    impl_->embed.sub_(at::matmul(e->b, e->a).t() * e->scale);
    e->merged = false;
  }
}

double CausalLM::flops_per_token_dense() const {
  const auto& c = impl_->cfg;
  return 6.0 * static_cast<double>(c.num_parameters(false) + c.vocab_size * c.hidden_size);
}

void CausalLM::save_state(const std::string& file) const {
  std::vector<std::pair<std::string, at::Tensor>> t;
  for (const auto& [n, p] : named_parameters(true)) t.emplace_back(n, p.detach());
  save_safetensors(file, t, {{"format", "pt"}, {"posttrain", "trainable-state"}});
}

void CausalLM::load_state(const std::string& file) {
  SafetensorsFile f(file);
  at::NoGradGuard ng;
  for (auto& [n, p] : named_parameters(true)) {
    if (!f.contains(n)) fail("{}: missing parameter '{}' (saved by a different model or LoRA setup?)", file, n);
    auto src = f.view(n);
    // PEFT adapters are saved with the original vocabulary; ours pad it (lm_head B rows, embedding A columns).
    at::Tensor dst = p;
    for (int64_t d = 0; d < p.dim() && src.dim() == p.dim(); ++d)
      if (src.size(d) != p.size(d) && src.size(d) == impl_->cfg.vocab_size && p.size(d) == impl_->padded_vocab) {
        p.zero_();
        dst = dst.narrow(d, 0, src.size(d));
      }
    if (src.sizes() != dst.sizes())
      fail("{}: parameter '{}' has shape [{}] but the model has [{}]", file, n, fmt::join(src.sizes(), ", "),
           fmt::join(p.sizes(), ", "));
    dst.copy_(src);
  }
}

void CausalLM::save_pretrained(const std::string& dir, bool merge, uint64_t max_shard_bytes) const {
  fs::create_directories(dir);
  const auto& c = impl_->cfg;
  auto write_json = [&](const std::string& name, const nlohmann::json& j) {
    std::ofstream out(fs::path(dir) / name);
    out << j.dump(2) << "\n";
    if (!out) fail("cannot write {}/{}", dir, name);
  };
  auto export_base = [&](const std::string& out_dir) {
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (const auto& [n, p] : impl_->base_params) {
      at::Tensor t = p.detach();
      if (n == "model.embed_tokens.weight" || n == "lm_head.weight") t = t.narrow(0, 0, c.vocab_size);
      tensors.emplace_back(n, t);
    }
    save_sharded(out_dir, tensors, max_shard_bytes);
    nlohmann::json cfg = c.raw;
    cfg["torch_dtype"] = dtype_json_name(impl_->dtype);
    if (cfg.contains("dtype")) cfg["dtype"] = dtype_json_name(impl_->dtype);
    std::ofstream(fs::path(out_dir) / "config.json") << cfg.dump(2) << "\n";
    nlohmann::json gen = {{"_from_model_config", true}};
    if (c.bos_token_id) gen["bos_token_id"] = *c.bos_token_id;
    if (c.raw.contains("eos_token_id")) gen["eos_token_id"] = c.raw["eos_token_id"];
    if (c.pad_token_id) gen["pad_token_id"] = *c.pad_token_id;
    std::ofstream(fs::path(out_dir) / "generation_config.json") << gen.dump(2) << "\n";
  };
  if (!impl_->opts.lora) {
    export_base(dir);
    return;
  }
  const auto& lo = *impl_->opts.lora;
  std::vector<std::pair<std::string, at::Tensor>> adapter;
  for (const auto& [n, t] : impl_->lora_params) {
    at::Tensor v = t.detach();
    // Padded vocabulary rows/columns are ours, not PEFT's: save the original vocab size.
    if (n == "base_model.model.lm_head.lora_B.weight") v = v.narrow(0, 0, c.vocab_size);
    if (n == "base_model.model.model.embed_tokens.lora_embedding_A") v = v.narrow(1, 0, c.vocab_size);
    adapter.emplace_back(n, v);
  }
  save_safetensors((fs::path(dir) / "adapter_model.safetensors").string(), adapter);
  write_json("adapter_config.json", {{"peft_type", "LORA"},
                                     {"task_type", "CAUSAL_LM"},
                                     {"base_model_name_or_path", impl_->opts.path},
                                     {"r", lo.rank},
                                     {"lora_alpha", lo.alpha},
                                     {"lora_dropout", lo.dropout},
                                     {"target_modules", lo.target_modules},
                                     {"bias", "none"},
                                     {"fan_in_fan_out", false},
                                     {"inference_mode", true},
                                     {"init_lora_weights", true},
                                     {"use_rslora", false},
                                     {"use_dora", false},
                                     {"modules_to_save", nullptr}});
  if (merge) {
    auto* self = const_cast<CausalLM*>(this);
    self->merge_lora();
    export_base((fs::path(dir) / "merged").string());
    self->unmerge_lora();
  }
}

}  // namespace pt::model
