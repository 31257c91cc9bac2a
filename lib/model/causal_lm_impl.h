#pragma once
// CausalLM's state, shared by the files that each own one concern of it: causal_lm.cpp (the
// decoder forward pass), hf_io.cpp (HF checkpoint loading through the architecture's tensor-name
// table), lora.cpp (adapters) and export.cpp (HF / PEFT export and trainable-state files).
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/ATen.h>

#include "model/arch.h"
#include "model/attention.h"
#include "model/blocks.h"
#include "model/causal_lm.h"
#include "model/grad_accumulation.h"
#include "model/kv_cache.h"
#include "model/tensor_parallel.h"

namespace pt::model {

struct Lora {
  at::Tensor a;  // [r, in]
  at::Tensor b;  // [out, r]
  double scale = 1.0;
  bool merged = false;
  // Tensor parallelism: how the adapted weight is split (0: output rows — B split, A whole; 1: input
  // columns — A split, B whole; -1: not split). The whole factor is used on a rank's slice only, so
  // its gradient is summed over the group (f).
  int split = -1;
  at::Tensor a_for(TpGroup* tp) const { return split == 0 ? tp_copy(a, tp) : a; }
  at::Tensor b_for(TpGroup* tp) const { return split == 1 ? tp_copy(b, tp) : b; }
};

struct Linear {
  at::Tensor w;  // [out, in]
  at::Tensor b;  // [out] or undefined
  std::unique_ptr<Lora> lora;
};

struct Expert {
  Linear gate, up, down;
};

struct Layer {
  at::Tensor input_norm, post_norm, q_norm, k_norm;
  at::Tensor attn_out_norm, ffn_out_norm;  // Gemma 3 only
  Linear q, k, v, o, gate, up, down;       // gate/up/down undefined in a mixture-of-experts layer
  at::Tensor router;                        // [num_experts, hidden] (MoE layers)
  std::vector<Expert> experts;
};

struct CausalLM::Impl {
  ModelOptions opts;
  HfConfig cfg;
  const ArchSpec* arch = nullptr;
  at::Device device = at::kCPU;
  at::ScalarType dtype = at::kFloat;
  int64_t padded_vocab = 0;
  at::Tensor embed, final_norm, lm_head;  // lm_head aliases embed when tied; undefined for a classifier without one
  at::Tensor score;                       // [num_labels, hidden] classification head, or undefined
  at::Tensor score_bias;                  // [num_labels] (token classification), or undefined
  at::Tensor projection;                  // [num_outputs, hidden] projection head (kProjectionName), or undefined
  at::Tensor value_w, value_b;            // [1, hidden], [1] PPO's value head on the policy, or undefined
  std::vector<Layer> layers;
  std::unique_ptr<Lora> head_lora;   // a: [r, hidden], b: [padded_vocab, r]
  std::unique_ptr<Lora> embed_lora;  // a: [r, padded_vocab], b: [hidden, r] (PEFT's lora_embedding_A/B)
  at::Tensor inv_freq;
  at::Tensor inv_freq_local;  // windowed layers' own RoPE base (Gemma 3), or undefined
  bool training = true;
  bool adapters_on = true;  // off: the base model (a DPO reference without a second copy)
  LayerHooks* layer_hooks = nullptr;
  // Tensor parallelism (LoadContext::tp; null = off): this rank's heads and embedding / LM-head rows
  // [vocab_offset, vocab_offset + padded_vocab / tp size).
  std::shared_ptr<TpGroup> tp_group;
  TpGroup* tp = nullptr;
  int64_t vocab_offset = 0;
  int tp_size() const { return tp ? tp->size() : 1; }
  std::vector<std::pair<at::Tensor, at::Tensor>> tp_slices;  // while whole (set_tp_whole): parameter, its slice
  std::map<std::string, int> lora_split;                     // split dimension of each split LoRA factor
  int64_t frozen_rows = 0;  // > 0: only embedding / LM-head rows from here on train (new tokens alone)
  // New tokens under LoRA (PEFT's trainable_token_indices): the values of rows [new_rows_from,
  // new_rows_from + n) of the embedding (and of an untied LM head), trainable, replacing the frozen
  // base rows while adapters are on. `rows_merged`: written into the base (merge_lora), originals kept.
  int64_t new_rows_from = 0;
  at::Tensor new_embed_rows, new_head_rows, base_embed_rows, base_head_rows;
  bool rows_merged = false;
  bool new_rows_active() const { return new_embed_rows.defined() && adapters_on && !rows_merged; }
  // Every parameter by its HF name, in a stable order (checkpoints, optimizer state).
  std::vector<std::pair<std::string, at::Tensor>> base_params;
  std::vector<std::pair<std::string, at::Tensor>> lora_params;  // PEFT names

  // --- forward --------------------------------------------------------------------------------
  // LoRA dropout. A row-parallel input holds this rank's columns only: the mask of the whole row is
  // drawn (every rank of the group draws the same one, as one unsplit rank would) and this rank's
  // columns kept, so the ranks' masks are not copies of each other and a CPU run equals an unsplit one.
  at::Tensor lora_input(const at::Tensor& x, const Lora& l) const {
    const double p = opts.lora ? opts.lora->dropout : 0.0;
    if (!training || p <= 0) return x;
    if (!tp || l.split != 1) return at::dropout(x, p, true);
    auto sizes = x.sizes().vec();
    const int64_t cols = sizes.back();
    sizes.back() = cols * tp_size();
    auto mask = at::empty(sizes, x.options()).bernoulli_(1 - p).narrow(-1, cols * tp->rank(), cols).div_(1 - p);
    return x * mask;
  }
  at::Tensor proj(const at::Tensor& x, const Linear& l, bool bias = true) const {
    auto y = at::linear(x, l.w, bias && l.b.defined() ? std::optional<at::Tensor>(l.b) : std::nullopt);
    if (l.lora && !l.lora->merged && adapters_on) {
      y = y + at::linear(at::linear(lora_input(x, *l.lora), l.lora->a_for(tp)), l.lora->b_for(tp)) * l.lora->scale;
    }
    return y;
  }

  // x: [N, hidden] -> [N, hidden]
  // kv: null in training (packed documents, no cache); in generation, where this pass's tokens live
  // in the KV cache. The rest of the block is the same code either way.
  at::Tensor block(const Layer& L, const at::Tensor& x, const PackedInput& in, const at::Tensor& cos,
                   const at::Tensor& sin, int64_t layer = 0, KvStep* kv = nullptr) const {
    const int64_t n = x.size(0), hq = cfg.num_attention_heads / tp_size(), hkv = cfg.num_key_value_heads / tp_size(),
                  d = cfg.head_dim;
    auto h = tp_copy(norm(x, L.input_norm), tp);
    auto q = proj(h, L.q).view({n, hq, d});
    auto k = proj(h, L.k).view({n, hkv, d});
    auto v = proj(h, L.v).view({n, hkv, d});
    if (arch->qk_norm) {
      // Replicated weights applied to this rank's heads only: their gradients are summed (f).
      q = norm(q, tp_copy(L.q_norm, tp));
      k = norm(k, tp_copy(L.k_norm, tp));
    }
    q = apply_rope(q, cos, sin);
    k = apply_rope(k, cos, sin);
    const double scale = cfg.attn_scale > 0 ? cfg.attn_scale : 1.0 / std::sqrt(static_cast<double>(d));
    const int64_t window = cfg.window_of(layer);
    auto a = kv ? cached_attention(q, k, v, *kv, layer, scale, window)
                : attention(opts.attention, q, k, v, in, scale, window);  // [N, Hq, D]
    auto attn_out = row_parallel(a.reshape({n, hq * d}), L.o);
    if (L.attn_out_norm.defined()) attn_out = norm(attn_out, L.attn_out_norm);
    auto x2 = x + attn_out;
    auto h2 = norm(x2, L.post_norm);
    auto mlp = L.experts.empty() ? dense_mlp(tp_copy(h2, tp), L.gate, L.up, L.down) : tp_reduce(moe(h2, L), tp);
    if (L.ffn_out_norm.defined()) mlp = norm(mlp, L.ffn_out_norm);
    return x2 + mlp;
  }

  // Under tensor parallelism the sum over ranks of the down projection; `partial`: without it (the
  // caller sums several experts' outputs first).
  at::Tensor dense_mlp(const at::Tensor& h, const Linear& gate, const Linear& up, const Linear& down,
                       bool partial = false) const {
    auto g = proj(h, gate);
    auto act = cfg.hidden_act == "gelu_pytorch_tanh" ? at::gelu(g, "tanh") : at::silu(g);
    return partial ? proj(act * proj(h, up), down) : row_parallel(act * proj(h, up), down);
  }

  // A row-parallel projection: each rank's partial product over its input columns, summed over the
  // group; the (replicated) bias added once, after the sum.
  at::Tensor row_parallel(const at::Tensor& x, const Linear& l) const {
    if (!tp) return proj(x, l);
    auto y = tp_reduce(proj(x, l, /*bias=*/false), tp);
    return l.b.defined() ? y + l.b : y;
  }

  // Top-k routing as transformers does it: softmax over the experts in fp32, the k largest
  // (renormalized when norm_topk_prob) in the activations' dtype, each expert applied to its tokens
  // and its weighted output added in expert order. Under tensor parallelism the router runs on
  // every rank alike and each rank's experts compute their share of the width: the result is this
  // rank's partial sum (the caller sums it over the group).
  at::Tensor moe(const at::Tensor& h, const Layer& L) const {
    auto probs = at::softmax(at::linear(h, L.router), -1, at::kFloat);
    auto [top_v, top_i] = at::topk(probs, cfg.experts_per_token, -1);
    if (cfg.norm_topk_prob) top_v = top_v / top_v.sum(-1, true);
    top_v = tp_copy(top_v.to(h.scalar_type()), tp);
    auto hx = tp_copy(h, tp);
    auto out = at::zeros_like(h);
    // Which experts any token chose, on the host once per layer (one sync).
    auto hit = at::zeros({cfg.num_experts}, top_i.options()).index_fill_(0, top_i.flatten(), 1).nonzero().squeeze(1).cpu();
    const auto* e_ptr = hit.data_ptr<int64_t>();
    for (int64_t k = 0; k < hit.numel(); ++k) {
      const int64_t e = e_ptr[k];
      auto where = top_i.eq(e).nonzero();  // [T, 2]: token, slot
      auto tok = where.select(1, 0), slot = where.select(1, 1);
      const Expert& E = L.experts[static_cast<size_t>(e)];
      auto y = dense_mlp(hx.index_select(0, tok), E.gate, E.up, E.down, /*partial=*/true) * top_v.index({tok, slot}).unsqueeze(1);
      out = out.index_add(0, tok, y);
    }
    return out;
  }

  at::Tensor norm(const at::Tensor& x, const at::Tensor& w) const {
    return cfg.norm_plus_one ? rms_norm_plus_one(x, w, cfg.rms_norm_eps) : rms_norm(x, w, cfg.rms_norm_eps);
  }

  at::Tensor hidden(const PackedInput& in, KvStep* kv = nullptr);

  bool sequence_head_only() const { return !lm_head.defined(); }
  // The LM head the loss sees: W, plus the LoRA delta while unmerged. [padded_vocab, hidden]
  at::Tensor head() const {
    at::Tensor w = lm_head;
    if (head_lora && !head_lora->merged && adapters_on)
      w = lm_head + at::matmul(head_lora->b_for(tp), head_lora->a_for(tp)) * head_lora->scale;
    if (new_rows_active()) {
      const auto& rows = new_head_rows.defined() ? new_head_rows : new_embed_rows;  // tied: the embedding's
      w = w.index_copy(0, at::arange(new_rows_from, new_rows_from + rows.size(0), rows.options().dtype(at::kLong)), rows);
    }
    return w;
  }
  at::Tensor embed_lookup(const at::Tensor& ids) const {
    // Gemma 3 scales embeddings by a factor rounded to the weights' dtype, and PEFT scales the LoRA
    // delta by it separately.
    const bool scaled = cfg.embed_scale != 1.0;
    auto s = scaled ? at::scalar_tensor(cfg.embed_scale, at::kFloat).to(embed.scalar_type()).to(embed.device()) : at::Tensor();
    // Tensor parallelism: the rows (and LoRA A columns) this rank owns looked up, the others zero,
    // summed over the group.
    at::Tensor rows = ids, outside;
    if (tp) {
      rows = ids - vocab_offset;
      outside = rows.lt(0).logical_or(rows.ge(embed.size(0)));
      rows = rows.masked_fill(outside, 0);
    }
    // A sparse gradient (one row per token) when it can be added into a dense .grad: no [V, H] tensor.
    auto x = at::embedding(embed, rows, -1, false, sparse_lookup_grad_ok(embed));  // [N, hidden]
    if (scaled) x = x * s;
    if (embed_lora && !embed_lora->merged && adapters_on) {
      auto delta = at::matmul(at::embedding(embed_lora->a.t(), rows), embed_lora->b_for(tp).t()) * embed_lora->scale;
      x = x + (scaled ? delta * s.to(delta.scalar_type()) : delta);
    }
    if (tp) return tp_reduce(x.masked_fill(outside.unsqueeze(1), 0), tp);  // new token rows are refused under tp
    if (new_rows_active()) {
      // Positions of new tokens take their trainable rows (a host sync: new tokens are rare).
      auto sel = ids.ge(new_rows_from).nonzero().squeeze(1);
      if (sel.numel() > 0) {
        auto fresh = at::embedding(new_embed_rows, ids.index_select(0, sel) - new_rows_from);
        x = x.index_copy(0, sel, scaled ? fresh * s : fresh);
      }
    }
    return x;
  }
};

// The projection head: its parameter name, and the files it is saved in beside the HF model.
inline const char* kProjectionName = "projection_head.weight";
inline const char* kProjectionFile = "projection_head.safetensors";
inline const char* kProjectionMeta = "projection_head.json";
// The value head (ModelOptions::value_head): TRL's AutoModelForCausalLMWithValueHead names, in a file
// of its own beside the HF model (transformers' classes have no such head).
inline const char* kValueWeight = "v_head.summary.weight";
inline const char* kValueBias = "v_head.summary.bias";
inline const char* kValueFile = "value_head.safetensors";
inline const char* kValueMeta = "value_head.json";

// Adds LoRA adapters (PEFT init) to the modules `lo` targets and freezes the base (lora.cpp).
void attach_lora(CausalLM::Impl& impl, const LoraOptions& lo);
class ParamLoader;
// LM head, classification head and projection head as the files and model.head say (load_heads.cpp).
void load_heads(CausalLM::Impl& impl, ParamLoader& load);
const char* dtype_json_name(at::ScalarType t);
std::string strip_weight(const std::string& name);  // "lm_head.weight" -> "lm_head"

}  // namespace pt::model
