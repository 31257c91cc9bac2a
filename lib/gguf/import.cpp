#include "gguf/import.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/text.h"
#include "gguf/cache.h"
#include "gguf/gemma3_shape.h"
#include "gguf/llama3_rope.h"
#include "gguf/names.h"
#include "gguf/quant_types.h"
#include "gguf/reader.h"
#include "gguf/tokenizer_json.h"
#include "model/safetensors.h"
#include "tokenizer/tokenizer.h"

namespace pt::gguf {
namespace fs = std::filesystem;
using nlohmann::ordered_json;

namespace {

// Bump when the conversion's output changes: cached directories of older versions are not reused.
constexpr int kConverterVersion = 3;
constexpr const char* kTokenizerError = "tokenizer_error.txt";  // read by tok::Tokenizer::resolve_path

struct ArchInfo {
  const char* hf_class;
  const char* model_type;
  bool rope_permuted;  // llama.cpp stores q/k rows interleaved for this architecture
};

ArchInfo arch_info(const Reader& r, const std::string& arch) {
  if (arch == "llama") return {"LlamaForCausalLM", "llama", true};
  if (arch == "qwen2") return {"Qwen2ForCausalLM", "qwen2", false};
  if (arch == "qwen3") return {"Qwen3ForCausalLM", "qwen3", false};
  if (arch == "qwen3moe") return {"Qwen3MoeForCausalLM", "qwen3_moe", false};
  if (arch == "gemma3") return {"Gemma3ForCausalLM", "gemma3_text", false};
  fail("{}: general.architecture '{}' is not imported (llama, qwen2, qwen3, qwen3moe and gemma3 are)", r.path(), arch);
}

double num(const Reader& r, const std::string& key) {
  const auto& v = r.at(key);
  if (!v.is_number()) fail("{}: GGUF metadata '{}' must be a number, got {}", r.path(), key, v.dump());
  return v.get<double>();
}
double num_or(const Reader& r, const std::string& key, double fallback) { return r.has(key) ? num(r, key) : fallback; }

void rope_scaling(const Reader& r, const std::string& a, ordered_json& c) {
  if (const TensorEntry* t = r.find("rope_freqs.weight")) {
    // Llama 3 scaling, as the divisors llama.cpp reads: recover the HF parameters that give them.
    const at::Tensor f = dequantize(r.data(*t), t->type, t->numel(), r.path() + ": tensor 'rope_freqs.weight'");
    const auto s = fit_llama3_scaling(f, c["rope_theta"].get<double>(), c["head_dim"].get<int64_t>(), r.path());
    if (s)
      c["rope_scaling"] = {{"rope_type", "llama3"},
                           {"factor", s->factor},
                           {"low_freq_factor", s->low_freq_factor},
                           {"high_freq_factor", s->high_freq_factor},
                           {"original_max_position_embeddings", s->original_max_position_embeddings}};
    return;
  }
  const std::string key = a + ".rope.scaling.type";
  if (!r.has(key) || r.at(key) == "none") return;
  const std::string type = r.at(key).is_string() ? r.at(key).get<std::string>() : r.at(key).dump();
  if (type != "linear" && type != "yarn")
    fail("{}: {} = '{}' is not imported (linear and yarn are)", r.path(), key, type);
  ordered_json s = {{"rope_type", type}, {"factor", num(r, a + ".rope.scaling.factor")}};
  if (type == "yarn") s["original_max_position_embeddings"] = num(r, a + ".rope.scaling.original_context_length");
  c["rope_scaling"] = s;
}

// What llama.cpp's gemma3 fixes rather than stores: every 6th layer global, the others windowed with
// RoPE base 10000 unscaled, attention scaled by head_dim^-1/2 (hidden / heads for the 62-layer 27B),
// GELU (tanh); the global layers take rope.freq_base and the file's scaling.
void gemma3_config(const Reader& r, ordered_json& c) {
  if (r.has("gemma3.final_logit_softcapping"))
    fail("{}: gemma3.final_logit_softcapping is set; logit soft-capping is not supported", r.path());
  const int64_t layers = c["num_hidden_layers"].get<int64_t>();
  ordered_json types = ordered_json::array();
  for (int64_t l = 0; l < layers; ++l) types.push_back(gemma3::windowed(l) ? "sliding_attention" : "full_attention");
  ordered_json global = {{"rope_type", "default"}, {"rope_theta", c["rope_theta"]}};
  if (c.contains("rope_scaling")) {
    if (c["rope_scaling"]["rope_type"] != "linear")
      fail("{}: gemma3 with {} RoPE scaling is not imported (linear is)", r.path(), c["rope_scaling"]["rope_type"].dump());
    global["rope_type"] = "linear";
    global["factor"] = c["rope_scaling"]["factor"];
    c.erase("rope_scaling");
  }
  c.erase("rope_theta");
  c["rope_parameters"] = {{"full_attention", global}, {"sliding_attention", {{"rope_type", "default"}, {"rope_theta", gemma3::kLocalRopeBase}}}};
  c["layer_types"] = types;
  c["sliding_window"] = static_cast<int64_t>(num(r, "gemma3.attention.sliding_window"));
  c["query_pre_attn_scalar"] = gemma3::query_scalar(layers, c["hidden_size"].get<int64_t>(),
                                                    c["num_attention_heads"].get<int64_t>(), c["head_dim"].get<int64_t>());
  c["hidden_activation"] = "gelu_pytorch_tanh";
  c.erase("hidden_act");
  c["final_logit_softcapping"] = nullptr;
  c["attn_logit_softcapping"] = nullptr;
}

ordered_json hf_config(const Reader& r, const std::string& a, const ArchInfo& info) {
  const int64_t hidden = static_cast<int64_t>(num(r, a + ".embedding_length"));
  const int64_t heads = static_cast<int64_t>(num(r, a + ".attention.head_count"));
  const int64_t head_dim = static_cast<int64_t>(num_or(r, a + ".attention.key_length", hidden / heads));
  if (const int64_t rot = static_cast<int64_t>(num_or(r, a + ".rope.dimension_count", head_dim)); rot != head_dim)
    fail("{}: {}.rope.dimension_count = {} but heads are {} wide: partial rotary embeddings are not imported", r.path(),
         a, rot, head_dim);
  const TensorEntry* embed = r.find("token_embd.weight");
  if (!embed) fail("{}: no tensor 'token_embd.weight' (the token embeddings)", r.path());
  const int64_t vocab = static_cast<int64_t>(num_or(r, a + ".vocab_size", static_cast<double>(embed->torch_shape()[0])));
  ordered_json c = {{"architectures", {info.hf_class}},
                    {"model_type", info.model_type},
                    {"hidden_size", hidden},
                    // An all-expert file may omit the dense width (llama.cpp): the experts' then.
                    {"intermediate_size", static_cast<int64_t>(a == "qwen3moe" && !r.has(a + ".feed_forward_length")
                                                                   ? num(r, a + ".expert_feed_forward_length")
                                                                   : num(r, a + ".feed_forward_length"))},
                    {"num_hidden_layers", static_cast<int64_t>(num(r, a + ".block_count"))},
                    {"num_attention_heads", heads},
                    {"num_key_value_heads", static_cast<int64_t>(num_or(r, a + ".attention.head_count_kv", heads))},
                    {"head_dim", head_dim},
                    {"rms_norm_eps", num(r, a + ".attention.layer_norm_rms_epsilon")},
                    {"rope_theta", num_or(r, a + ".rope.freq_base", 10000.0)},
                    {"max_position_embeddings", static_cast<int64_t>(num_or(r, a + ".context_length", 4096))},
                    {"vocab_size", vocab},
                    {"hidden_act", "silu"},
                    {"tie_word_embeddings", r.find("output.weight") == nullptr},
                    {"initializer_range", 0.02},
                    {"torch_dtype", "float32"}};
  for (auto [hf, key] : {std::pair<const char*, const char*>{"bos_token_id", "tokenizer.ggml.bos_token_id"},
                         {"eos_token_id", "tokenizer.ggml.eos_token_id"},
                         {"pad_token_id", "tokenizer.ggml.padding_token_id"}})
    if (r.has(key)) c[hf] = static_cast<int64_t>(num(r, key));
  // Qwen2's q/k/v biases are part of its architecture; Llama's and Qwen3's attention_bias covers all four projections.
  if (a != "qwen2") c["attention_bias"] = r.find("blk.0.attn_q.bias") != nullptr;
  if (a == "qwen3moe") {
    // llama.cpp's qwen3moe: experts in every layer, the chosen experts' weights renormalized.
    const int64_t experts = static_cast<int64_t>(num(r, a + ".expert_count"));
    c["num_experts"] = experts;
    c["num_local_experts"] = experts;  // transformers 5's name for it
    c["num_experts_per_tok"] = static_cast<int64_t>(num(r, a + ".expert_used_count"));
    c["moe_intermediate_size"] = static_cast<int64_t>(num(r, a + ".expert_feed_forward_length"));
    c["norm_topk_prob"] = true;
    c["decoder_sparse_step"] = 1;
    c["mlp_only_layers"] = ordered_json::array();
  }
  rope_scaling(r, a, c);
  if (a == "gemma3") gemma3_config(r, c);
  return c;
}

// Every tensor (but rope_freqs, read into the config) under its HF name, in the file's order, as
// float32 dequantized when the writer reaches it: a conversion holds one tensor at a time.
struct HfTensor {
  const TensorEntry* entry;
  std::string name;
  int64_t rope_heads;    // > 0: llama.cpp's interleaved q/k rows to undo
  int64_t expert = -1;   // >= 0: this expert's slice of a stacked [experts, rows, cols] tensor
  double shift = 0;      // added back (Gemma's norms: llama.cpp stores 1 + w)
};

std::vector<HfTensor> hf_tensors(const Reader& r, const ordered_json& c, const ArchInfo& info, const std::string& arch) {
  std::vector<HfTensor> out;
  for (const auto& t : r.tensors()) {
    if (t.name == "rope_freqs.weight") continue;
    if (is_expert_stack(t.name)) {  // one HF tensor per expert
      const auto shape = t.torch_shape();
      if (shape.size() != 3) fail("{}: tensor '{}' should be [experts, rows, cols], is {}-D", r.path(), t.name, shape.size());
      for (int64_t e = 0; e < shape[0]; ++e) out.push_back({&t, hf_expert_name(t.name, e), 0, e});
      continue;
    }
    const std::string name = hf_name(t.name, arch);
    if (name.empty()) fail("{}: tensor '{}' has no Hugging Face counterpart for {}", r.path(), t.name, info.hf_class);
    const bool q = t.name.find(".attn_q.") != std::string::npos, k = t.name.find(".attn_k.") != std::string::npos;
    const int64_t heads = info.rope_permuted && (q || k)
                              ? (q ? c["num_attention_heads"].get<int64_t>() : c["num_key_value_heads"].get<int64_t>()) : 0;
    const bool gemma_norm = arch == "gemma3" && ends_with(name, "norm.weight");
    out.push_back({&t, name, heads, -1, gemma_norm ? -1.0 : 0.0});
  }
  return out;
}

void save_weights(const Reader& r, const std::vector<HfTensor>& tensors, const std::string& file,
                  const std::string& source) {
  std::vector<model::TensorSpec> specs;
  for (const auto& t : tensors) {
    auto shape = t.entry->torch_shape();
    if (t.expert >= 0) shape.erase(shape.begin());
    specs.push_back({t.name, at::kFloat, shape});
  }
  model::save_safetensors_streamed(file, specs, [&](size_t i) {
    const HfTensor& h = tensors[i];
    const TensorEntry& e = *h.entry;
    const std::string what = r.path() + ": tensor '" + e.name + "'";
    if (h.expert >= 0) {  // the expert's rows: its share of the stack's blocks
      const int64_t per = e.numel() / e.torch_shape()[0];
      const uint64_t bytes = tensor_bytes(e.type, per, what);
      at::Tensor w = dequantize(r.data(e) + static_cast<uint64_t>(h.expert) * bytes, e.type, per, what).view(specs[i].shape);
      if (h.expert + 1 == e.torch_shape()[0]) r.release(e);
      return w;
    }
    at::Tensor w = dequantize(r.data(e), e.type, e.numel(), what).view(e.torch_shape());
    r.release(e);
    if (h.shift != 0) w = w + h.shift;
    return h.rope_heads > 0 ? unpermute_rope_rows(w, h.rope_heads) : w;
  }, {{"format", "pt"}, {"source", source}});
}

void write_json(const fs::path& p, const ordered_json& j) {
  std::ofstream f(p);
  f << j.dump(2) << "\n";
  if (!f) fail("{}: cannot write", p.string());
}

}  // namespace

bool is_gguf(const std::string& path) {
  if (path.empty() || !fs::is_regular_file(path)) return false;
  if (fs::path(path).extension() == ".gguf") return true;
  char magic[4] = {};
  std::ifstream(path, std::ios::binary).read(magic, 4);
  return std::string(magic, 4) == "GGUF";
}


void convert_to_hf(const std::string& gguf_path, const std::string& out_dir) {
  const auto t0 = std::chrono::steady_clock::now();
  const Reader r(gguf_path);
  const auto& av = r.at("general.architecture");
  const std::string arch = av.is_string() ? av.get<std::string>() : av.dump();
  const ArchInfo info = arch_info(r, arch);
  const ordered_json cfg = hf_config(r, arch, info);
  fs::create_directories(out_dir);
  try {
    ordered_json tj = tokenizer_json(r);  // refusals are recorded, not fatal: the weights still load
    write_json(fs::path(out_dir) / "tokenizer.json", tj);
    write_json(fs::path(out_dir) / "tokenizer_config.json", tokenizer_config(r));
  } catch (const Error& e) {
    std::ofstream(fs::path(out_dir) / kTokenizerError) << e.what() << "\n";
  }
  const auto tensors = hf_tensors(r, cfg, info, arch);
  save_weights(r, tensors, (fs::path(out_dir) / "model.safetensors").string(), fs::absolute(gguf_path).string());
  write_json(fs::path(out_dir) / "config.json", cfg);
  ordered_json gen = ordered_json::object();
  for (const char* k : {"bos_token_id", "eos_token_id", "pad_token_id"})
    if (cfg.contains(k)) gen[k] = cfg[k];
  write_json(fs::path(out_dir) / "generation_config.json", gen);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  log::info("{}: GGUF ({}, {} tensors) converted to {} in {:.1f} s", gguf_path, arch, tensors.size(), out_dir, s);
}

namespace {
// After a new conversion (the only thing that grows the cache): the new copy marked used, the cache
// kept within its budget (cache.h). A cache hit only marks its copy: resolving a path (model,
// tokenizer, reference, on every rank) must not walk and size the whole cache each time.
void keep_cache_bounded(const fs::path& dir) {
  mark_used(dir);
  const Evicted ev = evict(dir.parent_path(), dir, cache_budget_bytes());
  for (const auto& d : ev.removed) log::info("GGUF cache: removed {} (least recently used, or a dead conversion's)", d.string());
  if (!ev.removed.empty())
    log::info("GGUF cache {}: {:.2f} GB freed, {:.2f} GB kept (budget: POSTTRAIN_GGUF_CACHE_GB)", dir.parent_path().string(),
              static_cast<double>(ev.freed) / 1e9, static_cast<double>(ev.kept) / 1e9);
}
}  // namespace

std::string model_dir(const std::string& path) {
  if (!is_gguf(path)) return path;
  const fs::path dir = cache_dir_for(path, kConverterVersion);
  if (fs::exists(dir / kCompleteMarker)) {
    mark_used(dir);
    return dir.string();
  }
  const fs::path tmp = staging_dir_for(dir);
  try {
    convert_to_hf(path, tmp.string());
    std::ofstream(tmp / kCompleteMarker) << path << "\n";
    std::error_code ec;
    fs::rename(tmp, dir, ec);  // fails when another process got there first: its copy is the same
    if (ec) fs::remove_all(tmp);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
  if (!fs::exists(dir / kCompleteMarker)) fail("{}: converted copy {} is incomplete", path, dir.string());
  keep_cache_bounded(dir);
  return dir.string();
}

std::string tokenizer_dir(const std::string& path) {
  if (!is_gguf(path)) return path;
  const std::string dir = model_dir(path);
  if (fs::exists(fs::path(dir) / kTokenizerError)) tok::Tokenizer::resolve_path(dir);  // fails with the reason
  return dir;
}

}  // namespace pt::gguf
