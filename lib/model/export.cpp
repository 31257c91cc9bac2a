// Export: the HF layout transformers loads (config.json, generation_config.json, sharded
// safetensors at the original vocabulary size), PEFT adapters for LoRA (and the merged model), and
// the trainable-state files of checkpoints.
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "model/causal_lm_impl.h"
#include "model/safetensors.h"

namespace fs = std::filesystem;

namespace pt::model {

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
    // Tensor parallelism: the file holds whole tensors; this rank's slice of a split one.
    if (const int dim = tp_split_dim(n); dim >= 0 && src.dim() == p.dim() && src.size(dim) == p.size(dim) * impl_->tp_size())
      src = tp_slice(src, dim, *impl_->tp);
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

void CausalLM::save_pretrained_except(const std::string& dir, const std::function<bool(const std::string&)>& skip) const {
  PT_CHECK(!impl_->opts.lora, "save_pretrained_except: the base of a LoRA model is saved whole");
  save_impl(dir, false, 5ull << 30, skip);
}

void CausalLM::save_pretrained(const std::string& dir, bool merge, uint64_t max_shard_bytes) const {
  save_impl(dir, merge, max_shard_bytes, nullptr);
}

void CausalLM::save_impl(const std::string& dir, bool merge, uint64_t max_shard_bytes,
                         const std::function<bool(const std::string&)>& skip) const {
  PT_CHECK(!impl_->tp || !impl_->tp_slices.empty(),
           "saving a tensor-parallel model needs its whole tensors: call set_tp_whole(true) on every rank of the group");
  fs::create_directories(dir);
  const auto& c = impl_->cfg;
  auto write_json = [&](const std::string& name, const nlohmann::json& j) {
    std::ofstream out(fs::path(dir) / name);
    out << j.dump(2) << "\n";
    if (!out) fail("cannot write {}/{}", dir, name);
  };
  // The value head has no transformers layout: TRL's tensor names in a file of its own, described.
  auto save_value_head = [&](const std::string& out_dir) {
    save_safetensors((fs::path(out_dir) / kValueFile).string(),
                     {{kValueWeight, impl_->value_w.detach()}, {kValueBias, impl_->value_b.detach()}}, {{"format", "pt"}});
    nlohmann::json meta{{"type", "value_head"},
                        {"tensors", {kValueWeight, kValueBias}},
                        {"hidden_size", c.hidden_size},
                        {"applies_to", "the final hidden states (after the final norm; transformers' "
                                       "hidden_states[-1]) at every position"},
                        {"values", "hidden_states @ weight.T + bias: the value of the state before the next token"}};
    std::ofstream(fs::path(out_dir) / kValueMeta) << meta.dump(2) << "\n";
  };
  auto export_base = [&](const std::string& out_dir) {
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (const auto& [n, p] : impl_->base_params) {
      if (skip && skip(n)) continue;
      at::Tensor t = p.detach();
      if (n == kProjectionName) {
        // No transformers layout: its own file, described by a JSON beside it.
        save_safetensors((fs::path(out_dir) / kProjectionFile).string(), {{n, t}}, {{"format", "pt"}});
        nlohmann::json meta{{"type", "projection"},
                            {"tensor", kProjectionName},
                            {"num_outputs", t.size(0)},
                            {"hidden_size", t.size(1)},
                            {"applies_to", "the final hidden states (after the final norm) at every position"},
                            {"logits", "hidden_states @ weight.T, one score per id of the output space"}};
        std::ofstream(fs::path(out_dir) / kProjectionMeta) << meta.dump(2) << "\n";
        continue;
      }
      if (n == kValueWeight || n == kValueBias) continue;  // its own file, below
      if (n == impl_->arch->names.embed || n == impl_->arch->names.lm_head) t = t.narrow(0, 0, c.vocab_size);
      tensors.emplace_back(n, t);
    }
    if (impl_->value_w.defined() && !(skip && skip(kValueWeight))) save_value_head(out_dir);
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
    const auto& N = impl_->arch->names;
    if (n == "base_model.model." + strip_weight(N.lm_head) + ".lora_B.weight") v = v.narrow(0, 0, c.vocab_size);
    if (n == "base_model.model." + strip_weight(N.embed) + ".lora_embedding_A") v = v.narrow(1, 0, c.vocab_size);
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
  if (const int64_t from = new_token_rows_from(); from > 0) {
    // New tokens: PEFT's trainable_token_indices (their rows' values, not deltas; the base model is
    // resized to the new vocabulary before the adapter is loaded).
    std::vector<int64_t> ids;
    for (int64_t i = from; i < c.vocab_size; ++i) ids.push_back(i);
    nlohmann::json cfg = nlohmann::json::parse(std::ifstream(fs::path(dir) / "adapter_config.json"));
    const auto& N = impl_->arch->names;
    auto module = [](const std::string& name) {
      const std::string s = strip_weight(name);
      return s.substr(s.rfind('.') + 1);
    };
    cfg["trainable_token_indices"] = {{module(N.embed), ids}};
    if (impl_->new_head_rows.defined()) cfg["trainable_token_indices"][module(N.lm_head)] = ids;
    write_json("adapter_config.json", cfg);
  }
  if (merge) {
    auto* self = const_cast<CausalLM*>(this);
    self->merge_lora();
    export_base((fs::path(dir) / "merged").string());
    self->unmerge_lora();
  }
}

}  // namespace pt::model
