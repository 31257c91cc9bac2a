#include "model/causal_lm_impl.h"

#include <cmath>

#include <torch/csrc/autograd/custom_function.h>

#include "core/error.h"

namespace pt::model {

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
  if (layer_hooks) layer_hooks->before_model();
  auto ids = in.input_ids.to(device);
  auto pos = in.position_ids.to(device);
  auto x = embed_lookup(ids);  // [N, hidden]
  auto [cos, sin] = cfg.rope_scaling.type == "dynamic"
                        ? rope_cos_sin_per_token(dynamic_rope_inv_freq(cfg, pos, in.cu_seqlens), pos, dtype)
                        : rope_cos_sin(inv_freq, pos, dtype, cfg.rope_scaling.attention_factor);
  // Windowed layers with a RoPE base of their own (Gemma 3).
  at::Tensor cos_local = cos, sin_local = sin;
  if (inv_freq_local.defined()) std::tie(cos_local, sin_local) = rope_cos_sin(inv_freq_local, pos, dtype);
  const bool ckpt = !kv && opts.activation_checkpointing && at::GradMode::is_enabled();
  // A checkpointed block only joins the graph through its input; with a frozen embedding (LoRA)
  // that input must still require grad or no parameter inside the block would get one.
  if (ckpt && !x.requires_grad()) x = x.detach().requires_grad_(true);
  for (size_t i = 0; i < layers.size(); ++i) {
    const bool local = inv_freq_local.defined() && cfg.window_of(static_cast<int64_t>(i)) > 0;
    const at::Tensor& c = local ? cos_local : cos;
    const at::Tensor& s = local ? sin_local : sin;
    if (layer_hooks) layer_hooks->before_layer(static_cast<int64_t>(i));
    if (ckpt)
      x = CheckpointedBlock::apply(x, reinterpret_cast<int64_t>(this), static_cast<int64_t>(i),
                                   reinterpret_cast<int64_t>(&in), c, s);
    else
      x = block(layers[i], x, in, c, s, static_cast<int64_t>(i), kv);
    if (layer_hooks) layer_hooks->after_layer(static_cast<int64_t>(i), x);
  }
  return norm(x, final_norm);
}

CausalLM::CausalLM(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CausalLM::~CausalLM() = default;

at::Tensor CausalLM::hidden_states(const PackedInput& in, KvStep* kv) { return impl_->hidden(in, kv); }

at::Tensor CausalLM::lm_head_weight() const {
  if (!impl_->lm_head.defined())
    fail("{} is a {} without an LM head: it scores sequences (score_logits), it does not predict tokens",
         impl_->opts.path, impl_->cfg.hf_class);
  return impl_->head();
}

bool CausalLM::has_score_head() const { return impl_->score.defined() && impl_->cfg.sequence_classification; }
bool CausalLM::has_projection_head() const { return impl_->projection.defined(); }
bool CausalLM::has_value_head() const { return impl_->value_w.defined(); }
at::Tensor CausalLM::value_head(const at::Tensor& hidden) {
  if (!impl_->value_w.defined()) fail("{} has no value head (algorithm.grpo.critic.model: policy)", impl_->opts.path);
  return at::linear(hidden, impl_->value_w, impl_->value_b).select(1, 0).to(at::kFloat);
}
at::Tensor CausalLM::projection_weight() const {
  if (!impl_->projection.defined()) fail("{} has no projection head (model.head.type: projection)", impl_->opts.path);
  return impl_->projection;
}

bool CausalLM::has_token_head() const { return impl_->score.defined() && impl_->cfg.token_classification; }

at::Tensor CausalLM::token_score_logits(const at::Tensor& hidden) {
  if (!has_token_head())
    fail("{} ({}) has no token-classification head", impl_->opts.path, impl_->cfg.hf_class);
  const double p = impl_->cfg.classifier_dropout;
  at::Tensor h = impl_->training && p > 0 ? at::dropout(hidden, p, true) : hidden;
  return at::linear(h, impl_->score, impl_->score_bias.defined() ? std::optional<at::Tensor>(impl_->score_bias) : std::nullopt)
      .to(at::kFloat);
}
at::Tensor CausalLM::score_weight() const { return impl_->score; }

at::Tensor CausalLM::score_logits(const PackedInput& in) {
  if (!has_score_head())
    fail("{} ({}) has no sequence-classification head (score.weight)", impl_->opts.path, impl_->cfg.hf_class);
  at::Tensor h = impl_->hidden(in);
  at::Tensor last = in.cu_seqlens.to(h.device()).to(at::kLong).narrow(0, 1, in.cu_seqlens.size(0) - 1) - 1;
  return at::matmul(h.index_select(0, last), impl_->score.t()).to(at::kFloat);  // [docs, num_labels]
}

at::Tensor CausalLM::logits(const PackedInput& in) {
  auto h = impl_->hidden(in);
  auto local = at::linear(h, lm_head_weight());
  return tp_gather(local, 1, impl_->tp).narrow(1, 0, impl_->cfg.vocab_size);
}

const std::shared_ptr<TpGroup>& CausalLM::tp_group() const { return impl_->tp_group; }
int64_t CausalLM::vocab_offset() const { return impl_->vocab_offset; }

int CausalLM::tp_split_dim(const std::string& name) const {
  if (!impl_->tp) return -1;
  if (name.rfind("base_model.model.", 0) == 0) {  // a LoRA factor
    auto it = impl_->lora_split.find(name);
    return it == impl_->lora_split.end() ? -1 : it->second;
  }
  return model::tp_split_dim(*impl_->arch, name);
}

void CausalLM::set_tp_whole(bool whole, bool keep, bool trainable_only,
                            const std::function<bool(const std::string&)>& skip) {
  if (!impl_->tp || whole == !impl_->tp_slices.empty()) return;
  at::NoGradGuard ng;
  if (whole) {
    for (auto& [n, p] : named_parameters(trainable_only))
      if (const int dim = tp_split_dim(n); dim >= 0 && !(skip && skip(n))) {
        // One whole tensor at a time on the device; the writer's copy goes to the host.
        at::Tensor full = tp_gather(p.detach(), dim, impl_->tp);
        if (!keep) continue;
        impl_->tp_slices.emplace_back(p, p.detach());
        p.set_data(full.to(at::kCPU));
      }
  } else {
    for (auto& [p, slice] : impl_->tp_slices) p.set_data(slice);
    impl_->tp_slices.clear();
  }
}

int64_t CausalLM::vocab_size() const { return impl_->cfg.vocab_size; }
int64_t CausalLM::padded_vocab_size() const { return impl_->padded_vocab; }
const HfConfig& CausalLM::config() const { return impl_->cfg; }
at::Device CausalLM::device() const { return impl_->device; }
at::ScalarType CausalLM::dtype() const { return impl_->dtype; }
void CausalLM::train(bool on) { impl_->training = on; }
bool CausalLM::is_training() const { return impl_->training; }

std::vector<std::pair<std::string, at::Tensor>> CausalLM::named_parameters(bool trainable_only) const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  // Tied LM head appears once (as the embedding).
  if (!trainable_only || !impl_->opts.lora) out = impl_->base_params;
  for (const auto& p : impl_->lora_params) out.push_back(p);
  return out;
}

void CausalLM::set_layer_hooks(LayerHooks* hooks) { impl_->layer_hooks = hooks; }

bool CausalLM::is_decay_param(const std::string& name) const {
  auto ends = [&](const char* s) {
    std::string suf(s);
    return name.size() >= suf.size() && name.compare(name.size() - suf.size(), suf.size(), suf) == 0;
  };
  // Training new token rows alone: decay would move the frozen rows of the same tensor.
  if (impl_->frozen_rows > 0) return false;
  return !(ends("norm.weight") || ends("layernorm.weight") || ends(".bias"));
}

double CausalLM::flops_per_token_dense() const {
  const auto& c = impl_->cfg;
  return 6.0 * static_cast<double>(c.num_parameters(false) + c.vocab_size * c.hidden_size);
}

}  // namespace pt::model
