// Qwen3MoeForCausalLM: Qwen3 attention (per-head q/k RMSNorm) with mixture-of-experts MLPs. A
// router (mlp.gate) scores num_experts experts per token; the top num_experts_per_tok are kept (their
// softmax probabilities renormalized when norm_topk_prob) and their SwiGLU outputs summed with those
// weights. Layers in mlp_only_layers, or off the decoder_sparse_step grid, keep a dense MLP.
#include <algorithm>

#include "core/error.h"
#include "model/arch.h"

namespace pt::model {

static void adapt_qwen3_moe(HfConfig& c) {
  const auto& j = c.raw;
  const std::string origin = c.hf_class + " config";
  auto integer = [&](const char* k, int64_t d) {
    if (!j.contains(k) || j[k].is_null()) return d;
    if (!j[k].is_number_integer() || j[k].get<int64_t>() < 0) fail("{}: '{}' must be a non-negative integer", origin, k);
    return j[k].get<int64_t>();
  };
  // transformers 5 writes num_local_experts; Hub checkpoints have num_experts.
  c.num_experts = integer("num_local_experts", integer("num_experts", 128));
  c.experts_per_token = integer("num_experts_per_tok", 8);
  c.moe_intermediate_size = integer("moe_intermediate_size", 768);
  c.norm_topk_prob = j.value("norm_topk_prob", false);
  if (c.experts_per_token < 1 || c.experts_per_token > c.num_experts)
    fail("{}: num_experts_per_tok = {} must be in [1, num_experts = {}]", origin, c.experts_per_token, c.num_experts);
  if (j.value("output_router_logits", false))
    fail("{}: output_router_logits (the router load-balancing loss) is not supported; set it to false", origin);
  const int64_t step = std::max<int64_t>(1, integer("decoder_sparse_step", 1));
  std::vector<int64_t> dense;
  if (j.contains("mlp_only_layers") && j["mlp_only_layers"].is_array())
    for (const auto& v : j["mlp_only_layers"]) dense.push_back(v.get<int64_t>());
  c.moe_layers.assign(static_cast<size_t>(c.num_hidden_layers), false);
  for (int64_t l = 0; l < c.num_hidden_layers; ++l)
    c.moe_layers[static_cast<size_t>(l)] =
        c.num_experts > 0 && (l + 1) % step == 0 && std::find(dense.begin(), dense.end(), l) == dense.end();
  adapt_qwen_sliding_layers(c);
}

const ArchSpec& arch_qwen3_moe() {
  static const ArchSpec spec{"Qwen3MoeForCausalLM", "qwen3_moe",
                             "Qwen3-MoE: Qwen3 attention with top-k routed SwiGLU experts (router softmax, optional "
                             "renormalization)",
                             false, true, adapt_qwen3_moe};
  return spec;
}

}  // namespace pt::model
