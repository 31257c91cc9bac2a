#include "gguf/from_hf.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/log.h"
#include "core/text.h"
#include "gguf/gemma3_shape.h"
#include "gguf/llama3_rope.h"
#include "gguf/names.h"
#include "model/arch.h"
#include "model/hf_config.h"
#include "model/safetensors.h"

namespace pt::gguf {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json read_json(const fs::path& p) {
  std::ifstream in(p);
  if (!in) fail("{}: cannot open", p.string());
  try {
    return json::parse(in);
  } catch (const std::exception& e) {
    fail("{}: not valid JSON: {}", p.string(), e.what());
  }
}

std::string arch_of(const model::HfConfig& c) {
  if (c.architecture == "LlamaForCausalLM" || c.architecture == "MistralForCausalLM") return "llama";
  if (c.architecture == "Qwen2ForCausalLM") return "qwen2";
  if (c.architecture == "Qwen3ForCausalLM") return "qwen3";
  if (c.architecture == "Qwen3MoeForCausalLM") return "qwen3moe";
  if (c.architecture == "Gemma3ForCausalLM") return "gemma3";
  fail("GGUF export: {} is not supported (Llama, Mistral, Qwen2, Qwen3, Qwen3-MoE and Gemma 3 decoders are)",
       c.architecture);
}

uint32_t file_type(TensorType t) {
  switch (t) {
    case TensorType::F32: return 0;
    case TensorType::F16: return 1;
    case TensorType::Q8_0: return 7;
    case TensorType::BF16: return 32;
  }
  return 0;
}

// The special token a tokenizer_config.json entry names (a string or {"content": ...}).
std::string token_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content")) return v["content"].get<std::string>();
  return "";
}

// The vocabulary by id (added tokens included) and llama.cpp's token types; ids past the model's
// vocabulary (a tokenizer that adds tokens the model never embeds, e.g. Gemma 3's image token) are left
// out with a warning.
struct Vocab {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
};
enum : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

Vocab read_vocab(const json& t, const std::string& where, int64_t vocab_size) {
  Vocab v{std::vector<std::string>(static_cast<size_t>(vocab_size)), std::vector<int32_t>(static_cast<size_t>(vocab_size), kUnused)};
  auto set = [&](int64_t id, const std::string& s, int32_t type, bool added) {
    if (id >= vocab_size && added) {
      log::warn("GGUF export: {}: added token {} ('{}') is past the model's vocabulary of {}: left out", where, id, s,
                vocab_size);
      return;
    }
    if (id < 0 || id >= vocab_size)
      fail("GGUF export: {}: token id {} ('{}') outside the model's vocabulary of {}", where, id, s, vocab_size);
    v.tokens[static_cast<size_t>(id)] = s;
    v.types[static_cast<size_t>(id)] = type;
  };
  for (const auto& [s, id] : t.at("model").at("vocab").items()) set(id.get<int64_t>(), s, kNormal, false);
  for (const auto& a : t.value("added_tokens", json::array()))
    set(a.at("id").get<int64_t>(), a.at("content").get<std::string>(), a.value("special", false) ? kControl : kUserDefined,
        true);
  for (size_t i = 0; i < v.tokens.size(); ++i)
    if (v.types[i] == kUnused) v.tokens[i] = "[PAD" + std::to_string(i) + "]";
  return v;
}

// A SentencePiece-style BPE (byte fallback, "▁" for spaces) as llama.cpp's 'llama' vocabulary: byte
// pieces typed, scores falling with the id (llama.cpp merges the best-scored pair first; these
// vocabularies list tokens in merge order), the HF merges kept too (transformers' loader uses them
// exactly). Gemma's way (spaces replaced by a normalizer, no prefix space) writes a token of
// blanks with real spaces as its own files do, typed user-defined.
void sentencepiece_vocab(Writer& w, const json& t, Vocab& v) {
  const json& norm = t.value("normalizer", json());
  const bool gemma_style = norm.is_object() && norm.value("type", "") == "Replace";
  bool prefix_space = false;
  const json& pre = t.value("pre_tokenizer", json());
  if (pre.is_object() && pre.value("type", "") == "Metaspace") prefix_space = pre.value("prepend_scheme", "always") != "never";
  if (norm.dump().find("Prepend") != std::string::npos) prefix_space = true;
  std::vector<float> scores(v.tokens.size());
  const std::string blank = "\u2581";
  const json& unk_field = t.at("model").value("unk_token", json());
  const std::string unk = unk_field.is_string() ? unk_field.get<std::string>() : std::string();
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    scores[i] = -static_cast<float>(i);
    std::string& s = v.tokens[i];
    if (s.size() == 6 && s.rfind("<0x", 0) == 0 && s.back() == '>') v.types[i] = kByte;
    if (!unk.empty() && s == unk) v.types[i] = kUnknown;
    const bool blanks = s.size() >= 2 * blank.size() && s.find_first_not_of(blank) == std::string::npos &&
                        s.size() % blank.size() == 0;
    if (gemma_style && blanks) {
      s = std::string(s.size() / blank.size(), ' ');
      v.types[i] = kUserDefined;
    }
  }
  w.add("tokenizer.ggml.model", std::string("llama"));
  w.add("tokenizer.ggml.pre", std::string("default"));
  w.add("tokenizer.ggml.tokens", v.tokens);
  w.add("tokenizer.ggml.scores", scores);
  w.add("tokenizer.ggml.token_type", v.types);
  w.add("tokenizer.ggml.add_space_prefix", prefix_space);
}

std::vector<std::string> merges_of(const json& m) {
  std::vector<std::string> merges;
  for (const auto& mg : m.value("merges", json::array()))
    merges.push_back(mg.is_string() ? mg.get<std::string>() : mg[0].get<std::string>() + " " + mg[1].get<std::string>());
  return merges;
}

void add_tokenizer(Writer& w, const fs::path& dir, int64_t vocab_size) {
  const fs::path tj = dir / "tokenizer.json";
  if (!fs::exists(tj)) fail("GGUF export: {} has no tokenizer.json (the GGUF file carries the tokenizer)", dir.string());
  const json t = read_json(tj);
  const json& m = t.at("model");
  if (m.value("type", "") != "BPE")
    fail("GGUF export: {}: only BPE tokenizers are written (byte-level, or SentencePiece-style with byte fallback); "
         "model.type is {}", tj.string(), m.value("type", "?"));
  Vocab v = read_vocab(t, tj.string(), vocab_size);
  if (m.value("byte_fallback", false)) {
    sentencepiece_vocab(w, t, v);
  } else {
    // llama.cpp picks its pre-tokenizer regex by name: Qwen2's (one digit per token) or GPT-2's.
    const std::string pre = t.dump().find("\\\\p{N}|") != std::string::npos ? "qwen2" : "gpt-2";
    w.add("tokenizer.ggml.model", std::string("gpt2"));
    w.add("tokenizer.ggml.pre", pre);
    w.add("tokenizer.ggml.tokens", v.tokens);
    w.add("tokenizer.ggml.token_type", v.types);
  }
  w.add("tokenizer.ggml.merges", merges_of(m));
  const std::vector<std::string>& tokens = v.tokens;
  json cfg = fs::exists(dir / "tokenizer_config.json") ? read_json(dir / "tokenizer_config.json") : json::object();
  auto id_of = [&](const std::string& s) -> int64_t {
    for (size_t i = 0; i < tokens.size(); ++i)
      if (tokens[i] == s) return static_cast<int64_t>(i);
    return -1;
  };
  for (auto [key, gguf_key] : {std::pair<const char*, const char*>{"bos_token", "tokenizer.ggml.bos_token_id"},
                               {"eos_token", "tokenizer.ggml.eos_token_id"},
                               {"pad_token", "tokenizer.ggml.padding_token_id"},
                               {"unk_token", "tokenizer.ggml.unknown_token_id"}})
    if (cfg.contains(key))
      if (const int64_t id = id_of(token_text(cfg[key])); id >= 0) w.add(gguf_key, static_cast<uint32_t>(id));
  w.add("tokenizer.ggml.add_bos_token", cfg.value("add_bos_token", false));
  std::string tmpl;
  if (cfg.contains("chat_template") && cfg["chat_template"].is_string()) tmpl = cfg["chat_template"].get<std::string>();
  if (tmpl.empty() && fs::exists(dir / "chat_template.jinja")) {
    std::ifstream in(dir / "chat_template.jinja");
    tmpl.assign(std::istreambuf_iterator<char>(in), {});
  }
  if (!tmpl.empty()) w.add("tokenizer.chat_template", tmpl);
}

// Gemma 3's sliding window (its windowed layers all share it).
int64_t gemma3_window(const model::HfConfig& c) {
  for (int64_t w : c.layer_window)
    if (w > 0) return w;
  return c.max_position_embeddings;
}

// llama.cpp's gemma3 fixes what transformers' config leaves open: every 6th layer global (the others
// windowed), the windowed layers' RoPE base 10000 unscaled, and attention scaled by head_dim^-1/2
// (hidden / heads for the 62-layer 27B). A config it would run differently is refused.
void check_gemma3(const model::HfConfig& c, const std::string& model_dir) {
  const int64_t head_dim = c.head_dim > 0 ? c.head_dim : c.hidden_size / c.num_attention_heads;
  const int64_t window = gemma3_window(c);
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const bool windowed = c.layer_window.empty() || c.layer_window[static_cast<size_t>(l)] > 0;
    if (windowed != gemma3::windowed(l) || (windowed && c.window_of(l) != window))
      fail("GGUF export: {}: layer {} is {}, but llama.cpp's gemma3 makes every 6th layer global and the others "
           "windowed ({} tokens)", model_dir, l, windowed ? "windowed" : "global", window);
  }
  if (c.rope_local_theta != gemma3::kLocalRopeBase)
    fail("GGUF export: {}: the windowed layers' RoPE base is {}, but llama.cpp's gemma3 uses {}", model_dir,
         c.rope_local_theta, gemma3::kLocalRopeBase);
  const double want = 1.0 / std::sqrt(static_cast<double>(
                                gemma3::query_scalar(c.num_hidden_layers, c.hidden_size, c.num_attention_heads, head_dim)));
  if (std::abs(c.attn_scale - want) > 1e-9)
    fail("GGUF export: {}: query_pre_attn_scalar gives an attention scale of {}, but llama.cpp's gemma3 scales by "
         "{} ({}^-1/2)", model_dir, c.attn_scale, want, c.num_hidden_layers == 62 ? "hidden / heads" : "head_dim");
}

// The architecture's hyperparameters under llama.cpp's keys.
void add_model_metadata(Writer& w, const model::HfConfig& c, const std::string& arch, int64_t head_dim) {
  w.add(arch + ".context_length", static_cast<uint32_t>(c.max_position_embeddings));
  w.add(arch + ".embedding_length", static_cast<uint32_t>(c.hidden_size));
  w.add(arch + ".block_count", static_cast<uint32_t>(c.num_hidden_layers));
  w.add(arch + ".feed_forward_length", static_cast<uint32_t>(c.intermediate_size));
  w.add(arch + ".attention.head_count", static_cast<uint32_t>(c.num_attention_heads));
  w.add(arch + ".attention.head_count_kv", static_cast<uint32_t>(c.num_key_value_heads));
  w.add(arch + ".attention.key_length", static_cast<uint32_t>(head_dim));
  w.add(arch + ".attention.value_length", static_cast<uint32_t>(head_dim));
  w.add(arch + ".attention.layer_norm_rms_epsilon", static_cast<float>(c.rms_norm_eps));
  w.add(arch + ".rope.freq_base", static_cast<float>(c.rope_theta));
  w.add(arch + ".rope.dimension_count", static_cast<uint32_t>(head_dim));
  const auto& rs = c.rope_scaling;
  if (rs.type == "linear" || rs.type == "yarn") {
    w.add(arch + ".rope.scaling.type", rs.type);
    w.add(arch + ".rope.scaling.factor", static_cast<float>(rs.factor));
  }
  if (rs.type == "yarn")
    w.add(arch + ".rope.scaling.original_context_length", static_cast<uint32_t>(rs.original_max_position_embeddings));
  if (c.num_experts > 0) {
    w.add(arch + ".expert_count", static_cast<uint32_t>(c.num_experts));
    w.add(arch + ".expert_used_count", static_cast<uint32_t>(c.experts_per_token));
    w.add(arch + ".expert_feed_forward_length", static_cast<uint32_t>(c.moe_intermediate_size));
  }
  if (arch == "gemma3") w.add(arch + ".attention.sliding_window", static_cast<uint32_t>(gemma3_window(c)));
  w.add(arch + ".vocab_size", static_cast<uint32_t>(c.vocab_size));
}

// llama.cpp's YaRN is transformers' with its defaults: the ramp between beta_fast 32 and beta_slow 1
// rotations with floor / ceil edges, and cos/sin scaled by 0.1 ln(factor) + 1. Anything else would
// run differently there, so it is refused rather than written.
void check_yarn(const model::HfConfig& c, const std::string& model_dir) {
  const auto& y = c.rope_scaling;
  if (y.type != "yarn") return;
  const double mscale = y.factor <= 1 ? 1.0 : 0.1 * std::log(y.factor) + 1.0;
  if (y.beta_fast != 32 || y.beta_slow != 1 || !y.truncate || std::abs(y.attention_factor - mscale) > 1e-9)
    fail("GGUF export: {}: YaRN with beta_fast {}, beta_slow {}, truncate {}, attention_factor {}: llama.cpp's YaRN "
         "takes transformers' defaults (32, 1, true, 0.1 ln(factor) + 1 = {})", model_dir, y.beta_fast, y.beta_slow,
         y.truncate, y.attention_factor, mscale);
}

// llama.cpp's qwen3moe has experts in every layer and renormalizes the chosen experts' weights.
void check_moe(const model::HfConfig& c, const std::string& model_dir) {
  if (c.num_experts == 0) return;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l)
    if (!c.is_moe_layer(l))
      fail("GGUF export: {}: layer {} is dense (mlp_only_layers / decoder_sparse_step), but llama.cpp's qwen3moe has "
           "experts in every layer", model_dir, l);
  if (!c.norm_topk_prob)
    fail("GGUF export: {}: norm_topk_prob is false, but llama.cpp's qwen3moe always renormalizes the chosen experts' "
         "weights", model_dir);
}

TensorType storage_type(const std::string& g, const std::vector<int64_t>& shape, TensorType type) {
  TensorType tt = shape.size() == 1 ? TensorType::F32 : type;
  if (tt == TensorType::Q8_0 && shape.back() % 32 != 0) {
    log::warn("GGUF export: {} has rows of {} (not a multiple of 32): stored as f16", g, shape.back());
    tt = TensorType::F16;
  }
  return tt;
}

// Every checkpoint tensor under llama.cpp's name, read and converted only when the writer reaches it
// (one tensor in memory at a time); experts stacked per layer and projection. Returns the count.
int64_t add_tensors(Writer& w, const model::Checkpoint& ckpt, const model::HfConfig& c, const std::string& arch,
                    TensorType type, const std::string& model_dir) {
  int64_t written = 0;
  std::map<std::string, std::vector<std::string>> stacks;  // stacked name -> HF names by expert
  for (const auto& name : ckpt.names()) {
    if (auto slot = expert_slot(name)) {
      auto& members = stacks[slot->stacked];
      if (slot->expert >= c.num_experts)
        fail("GGUF export: {}: tensor '{}' names expert {} of {}", model_dir, name, slot->expert, c.num_experts);
      members.resize(static_cast<size_t>(c.num_experts));
      members[static_cast<size_t>(slot->expert)] = name;
      continue;
    }
    const std::string g = gguf_name(name, arch);
    if (g.empty()) fail("GGUF export: {}: tensor '{}' has no llama.cpp name for architecture {}", model_dir, name, arch);
    if (g == "output.weight" && c.tie_word_embeddings) continue;  // llama.cpp reuses token_embd
    const std::vector<int64_t> shape = ckpt.file_of(name).info(name).shape;
    const bool q = g.find(".attn_q.") != std::string::npos, k = g.find(".attn_k.") != std::string::npos;
    const int64_t rope_heads = arch == "llama" && (q || k) ? (q ? c.num_attention_heads : c.num_key_value_heads) : 0;
    // Gemma's RMSNorm scales by (1 + w); llama.cpp's by w: its norms are stored plus one.
    const double shift = c.norm_plus_one && ends_with(name, "norm.weight") ? 1.0 : 0.0;
    w.add_tensor(g, shape, storage_type(g, shape, type), [&ckpt, name, rope_heads, shift] {
      const auto& file = ckpt.file_of(name);
      at::Tensor t = file.view(name).to(at::kFloat, /*non_blocking=*/false, /*copy=*/true);
      file.release(name);  // the mapped pages are copied out: keep the resident set to one tensor
      if (shift != 0) t.add_(shift);
      return rope_heads > 0 ? permute_rope_rows(t, rope_heads) : t;
    });
    ++written;
  }
  for (const auto& [g, members] : stacks) {
    for (size_t e = 0; e < members.size(); ++e)
      if (members[e].empty()) fail("GGUF export: {}: expert {} of {} is missing", model_dir, e, g);
    std::vector<int64_t> shape = ckpt.file_of(members[0]).info(members[0]).shape;
    shape.insert(shape.begin(), static_cast<int64_t>(members.size()));
    w.add_tensor(g, shape, storage_type(g, shape, type), [&ckpt, members] {
      std::vector<at::Tensor> parts;
      for (const auto& n : members) parts.push_back(ckpt.file_of(n).view(n).to(at::kFloat));
      return at::stack(parts);
    });
    ++written;
  }
  return written;
}

}  // namespace

void export_hf_dir(const std::string& model_dir, const std::string& tokenizer_dir, const std::string& out_file,
                   TensorType type) {
  auto c = model::HfConfig::from_file((fs::path(model_dir) / "config.json").string());
  const std::string arch = arch_of(c);
  if (const auto& spec = model::find_architecture(c.architecture); spec.adapt) spec.adapt(c);  // e.g. the experts
  const std::string& rope = c.rope_scaling.type;
  if (!rope.empty() && rope != "linear" && rope != "yarn" && !(rope == "llama3" && arch == "llama"))
    fail("GGUF export: {} uses rope_scaling '{}', which this export does not write (linear, yarn, and llama3 for Llama, "
         "are written)", model_dir, rope);
  check_yarn(c, model_dir);
  check_moe(c, model_dir);
  if (arch == "gemma3") check_gemma3(c, model_dir);
  Writer w;
  w.add("general.architecture", arch);
  w.add("general.name", fs::path(model_dir).filename().string());
  w.add("general.file_type", file_type(type));
  if (type == TensorType::Q8_0) w.add("general.quantization_version", static_cast<uint32_t>(2));
  const int64_t head_dim = c.head_dim > 0 ? c.head_dim : c.hidden_size / c.num_attention_heads;
  add_model_metadata(w, c, arch, head_dim);
  add_tokenizer(w, tokenizer_dir.empty() ? fs::path(model_dir) : fs::path(tokenizer_dir), c.vocab_size);
  model::Checkpoint ckpt(model_dir);
  int64_t written = add_tensors(w, ckpt, c, arch, type, model_dir);
  if (rope == "llama3") {  // llama.cpp's form of it: per-dimension frequency divisors
    model::HfConfig hc = c;
    hc.head_dim = head_dim;
    w.add_tensor("rope_freqs.weight", llama3_rope_factors(hc), TensorType::F32);
    ++written;
  }
  w.write(out_file);
  log::info("GGUF export: {} tensors of {} ({}) as {} -> {}", written, model_dir, arch, type_name(type), out_file);
}

}  // namespace pt::gguf
