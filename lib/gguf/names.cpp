#include "gguf/names.h"

#include <optional>
#include <regex>
#include <utility>
#include <vector>

namespace pt::gguf {

namespace {

struct Rule {
  const char* hf;    // module path; "{}" is the layer index
  const char* gguf;
};

const std::vector<Rule>& rules() {
  static const std::vector<Rule> r = {
      {"model.embed_tokens", "token_embd"},
      {"model.norm", "output_norm"},
      {"lm_head", "output"},
      {"model.layers.{}.input_layernorm", "blk.{}.attn_norm"},
      {"model.layers.{}.post_attention_layernorm", "blk.{}.ffn_norm"},
      {"model.layers.{}.self_attn.q_proj", "blk.{}.attn_q"},
      {"model.layers.{}.self_attn.k_proj", "blk.{}.attn_k"},
      {"model.layers.{}.self_attn.v_proj", "blk.{}.attn_v"},
      {"model.layers.{}.self_attn.o_proj", "blk.{}.attn_output"},
      {"model.layers.{}.self_attn.q_norm", "blk.{}.attn_q_norm"},
      {"model.layers.{}.self_attn.k_norm", "blk.{}.attn_k_norm"},
      {"model.layers.{}.mlp.gate_proj", "blk.{}.ffn_gate"},
      {"model.layers.{}.mlp.up_proj", "blk.{}.ffn_up"},
      {"model.layers.{}.mlp.down_proj", "blk.{}.ffn_down"},
      {"model.layers.{}.mlp.gate", "blk.{}.ffn_gate_inp"},  // a mixture of experts' router
  };
  return r;
}

// Gemma 2/3's sandwich norms: llama.cpp names them apart from Llama's, and its ffn_norm is Gemma's
// pre-feedforward norm (Llama's post_attention_layernorm). Checked before the common table.
const std::vector<Rule>& gemma_rules() {
  static const std::vector<Rule> r = {
      {"model.layers.{}.post_attention_layernorm", "blk.{}.post_attention_norm"},
      {"model.layers.{}.pre_feedforward_layernorm", "blk.{}.ffn_norm"},
      {"model.layers.{}.post_feedforward_layernorm", "blk.{}.post_ffw_norm"},
  };
  return r;
}

// `pattern` with "{}" as a layer index, then ".weight" or ".bias".
std::regex compile(const std::string& pattern) {
  std::string re = "^";
  for (char c : pattern) re += c == '.' ? std::string("\\.") : std::string(1, c);
  re = std::regex_replace(re, std::regex(R"(\{\})"), "(\\d+)");
  return std::regex(re + R"(\.(weight|bias)$)");
}

struct Compiled {
  const Rule* rule;
  std::regex hf, gguf;
};

std::vector<Compiled> compile_all(const std::vector<const std::vector<Rule>*>& tables) {
  std::vector<Compiled> c;
  for (const auto* t : tables)
    for (const auto& r : *t) c.push_back({&r, compile(r.hf), compile(r.gguf)});
  return c;
}

std::string rename(const std::string& name, bool to_gguf, const std::string& arch) {
  static const auto common = compile_all({&rules()});
  static const auto gemma = compile_all({&gemma_rules(), &rules()});
  const auto& table = arch.rfind("gemma", 0) == 0 ? gemma : common;
  for (const auto& c : table) {
    std::smatch m;
    if (!std::regex_match(name, m, to_gguf ? c.hf : c.gguf)) continue;
    std::string out = to_gguf ? c.rule->gguf : c.rule->hf;
    if (const auto at = out.find("{}"); at != std::string::npos) out.replace(at, 2, m[1].str());
    return out + "." + m[m.size() - 1].str();
  }
  return "";
}

at::Tensor reorder(const at::Tensor& w, int64_t heads, bool forward) {
  const auto shape = w.sizes().vec();
  const int64_t half = w.size(0) / heads / 2;
  std::vector<int64_t> split{heads, forward ? 2 : half, forward ? half : 2};
  split.insert(split.end(), shape.begin() + 1, shape.end());
  return w.reshape(split).transpose(1, 2).reshape(shape).contiguous();
}

}  // namespace

std::string gguf_name(const std::string& hf, const std::string& arch) { return rename(hf, true, arch); }

std::optional<ExpertSlot> expert_slot(const std::string& hf) {
  static const std::regex re(R"(^model\.layers\.(\d+)\.mlp\.experts\.(\d+)\.(gate|up|down)_proj\.weight$)");
  std::smatch m;
  if (!std::regex_match(hf, m, re)) return std::nullopt;
  return ExpertSlot{"blk." + m[1].str() + ".ffn_" + m[3].str() + "_exps.weight", std::stoll(m[2].str())};
}

namespace {
const std::regex& expert_stack_re() {
  static const std::regex re(R"(^blk\.(\d+)\.ffn_(gate|up|down)_exps\.weight$)");
  return re;
}
}  // namespace
bool is_expert_stack(const std::string& gguf) { return std::regex_match(gguf, expert_stack_re()); }
std::string hf_expert_name(const std::string& gguf, int64_t expert) {
  std::smatch m;
  if (!std::regex_match(gguf, m, expert_stack_re())) return "";
  return "model.layers." + m[1].str() + ".mlp.experts." + std::to_string(expert) + "." + m[2].str() + "_proj.weight";
}
std::string hf_name(const std::string& gguf, const std::string& arch) { return rename(gguf, false, arch); }
at::Tensor permute_rope_rows(const at::Tensor& w, int64_t heads) { return reorder(w, heads, true); }
at::Tensor unpermute_rope_rows(const at::Tensor& w, int64_t heads) { return reorder(w, heads, false); }

}  // namespace pt::gguf
