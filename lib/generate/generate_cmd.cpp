#include "generate/generate_cmd.h"

#include <torch/cuda.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "checkpoint/checkpoint.h"
#include "checkpoint/pieces.h"
#include "core/error.h"
#include "core/log.h"
#include "generate/engine.h"
#include "gguf/import.h"
#include "model/causal_lm.h"
#include "posttrain/build_config.h"
#include "tokenizer/hf_tokenizer.h"

namespace pt::gen {
namespace fs = std::filesystem;
using nlohmann::ordered_json;

namespace {
bool is_model_dir(const fs::path& d) { return fs::exists(d / "config.json") || fs::exists(d / "adapter_config.json"); }
bool has_tokenizer(const fs::path& d) { return fs::exists(d / "tokenizer.json") || fs::exists(d / "tokenizer.model"); }
}  // namespace

ModelLocation locate_model(const std::string& dir) {
  fs::path d(gguf::model_dir(dir));  // a GGUF file: its converted directory
  if (!fs::is_directory(d)) fail("--model {}: not a directory", dir);
  if (!is_model_dir(d)) {
    if (is_model_dir(d / "model")) {
      d = d / "model";  // a run directory (its final export) or a checkpoint directory
    } else if (auto ckpts = ckpt::list_complete(d.string(), false); !ckpts.empty()) {
      d = fs::path(ckpts.front().dir) / "model";  // a run without a final export: its newest checkpoint
    } else {
      fail("--model {}: neither an HF model directory (config.json) nor a run or checkpoint directory (model/)", dir);
    }
  }
  if (fs::is_directory(d.parent_path() / ckpt::kModelShardsDir))
    fail("--model {}: a checkpoint of fsdp ZeRO-3 keeps its decoder layers in {}/{}; join them into an HF model "
         "with: posttrain export {} OUT", dir, d.parent_path().string(), ckpt::kModelShardsDir, d.parent_path().string());
  ModelLocation loc;
  if (fs::exists(d / "adapter_config.json")) {
    ordered_json a;
    try {
      a = ordered_json::parse(std::ifstream(d / "adapter_config.json"));
    } catch (const std::exception& e) {
      fail("{}/adapter_config.json: {}", d.string(), e.what());
    }
    loc.adapter = d.string();
    loc.base = a.value("base_model_name_or_path", "");
    if (loc.base.empty() || !fs::exists(fs::path(loc.base) / "config.json"))
      fail("{}/adapter_config.json: base_model_name_or_path '{}' is not a model directory on this machine", d.string(),
           loc.base);
  } else {
    loc.base = d.string();
  }
  loc.tokenizer = has_tokenizer(d) ? d.string() : loc.base;
  return loc;
}

std::unique_ptr<model::CausalLM> load_model(const ModelLocation& loc, const std::string& dtype, at::Device device) {
  model::ModelOptions o;
  o.path = loc.base;
  if (dtype == "float32") o.dtype = model::Dtype::Float32;
  else if (dtype == "bfloat16") o.dtype = model::Dtype::BFloat16;
  else if (dtype == "float16") o.dtype = model::Dtype::Float16;
  else if (dtype != "auto") fail("--dtype: expected auto, float32, bfloat16 or float16, got '{}'", dtype);
  if (!loc.adapter.empty()) {
    auto a = ordered_json::parse(std::ifstream(fs::path(loc.adapter) / "adapter_config.json"));
    model::LoraOptions lo;
    lo.rank = a.value("r", 8);
    lo.alpha = a.value("lora_alpha", 8.0);
    lo.target_modules = a.value("target_modules", std::vector<std::string>{});
    o.lora = lo;
  }
  auto m = model::CausalLM::from_pretrained(o, device);
  if (!loc.adapter.empty()) m->load_state((fs::path(loc.adapter) / "adapter_model.safetensors").string());
  return m;
}

std::vector<int32_t> encode_prompt(const ordered_json& rec, const tok::HfTokenizer& tok, const std::string& where) {
  if (!rec.is_object()) fail("{}: expected a JSON object per line", where);
  if (auto ids = rec.find("prompt_ids"); ids != rec.end()) {  // already tokenized
    std::vector<int32_t> out;
    const int64_t vocab = static_cast<int64_t>(tok.tokenizer().vocab_size(true));
    if (!ids->is_array()) fail("{}: 'prompt_ids' must be a list of token ids", where);
    for (const auto& v : *ids) {
      if (!v.is_number_integer()) fail("{}: 'prompt_ids' must be a list of token ids, found {}", where, v.dump());
      out.push_back(v.get<int32_t>());
      if (out.back() < 0) fail("{}: 'prompt_ids' holds the negative id {}", where, out.back());
    }
    (void)vocab;  // ids beyond the tokenizer are checked against the model's vocabulary by the caller
    return out;
  }
  const ordered_json* msgs = nullptr;
  if (auto it = rec.find("messages"); it != rec.end()) msgs = &*it;
  auto p = rec.find("prompt");
  if (!msgs && p != rec.end() && p->is_array()) msgs = &*p;
  if (msgs) {
    if (!msgs->is_array() || msgs->empty()) fail("{}: 'messages' must be a non-empty list of {{role, content}}", where);
    if (!tok.has_chat_template()) fail("{}: chat messages need a chat template, and this tokenizer has none", where);
    tok::ChatOptions chat;
    chat.add_generation_prompt = true;
    try {
      return tok.tokenizer().encode(tok.render_chat(*msgs, chat).text, false).ids;
    } catch (const Error& e) {
      fail("{}: {}", where, e.what());
    }
  }
  if (p != rec.end() && p->is_string()) return tok.tokenizer().encode(p->get<std::string>(), true).ids;
  fail("{}: expected a 'messages' list or a 'prompt' (string or messages)", where);
}

namespace {

// The --input file's prompts, encoded: a bad line stops the run before any compute.
struct PromptFile {
  std::vector<std::vector<int32_t>> prompts;
  std::vector<ordered_json> records;
  std::vector<int64_t> line_of;
};

PromptFile read_prompts(const GenerateFlags& f, const tok::HfTokenizer& tokenizer) {
  std::ifstream in(f.input);
  if (!in) fail("--input {}: cannot open", f.input);
  PromptFile pf;
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = fmt::format("{}:{}", f.input, n);
    ordered_json rec;
    try {
      rec = ordered_json::parse(line);
    } catch (const ordered_json::parse_error& e) {
      fail("{}: malformed JSON at byte {} of the line", where, e.byte);
    }
    pf.prompts.push_back(encode_prompt(rec, tokenizer, where));
    if (pf.prompts.back().empty()) fail("{}: the prompt encodes to no tokens", where);
    pf.records.push_back(std::move(rec));
    pf.line_of.push_back(n);
  }
  if (pf.prompts.empty()) fail("--input {}: no prompts (the file is empty)", f.input);
  return pf;
}

// Every id inside the model's vocabulary; every prompt leaves room for --max-new-tokens in the
// context (or keeps its last tokens with --truncate-prompts).
void fit_prompts(PromptFile& pf, const GenerateFlags& f, const model::CausalLM& model) {
  const int64_t context = f.max_seq_len > 0 ? f.max_seq_len : model.config().max_position_embeddings;
  for (size_t i = 0; i < pf.prompts.size(); ++i) {
    auto& prompt = pf.prompts[i];
    for (int32_t id : prompt)
      if (id >= model.vocab_size())
        fail("{}:{}: token id {} is outside the model's vocabulary of {}", f.input, pf.line_of[i], id, model.vocab_size());
    const int64_t room = context - f.sampling.max_new_tokens;
    if (static_cast<int64_t>(prompt.size()) > room) {
      if (!f.truncate_prompts || room <= 0)
        fail("{}:{}: the prompt has {} tokens; with --max-new-tokens {} the context of {} leaves room for {} "
             "(--truncate-prompts keeps the last ones)", f.input, pf.line_of[i], prompt.size(), f.sampling.max_new_tokens,
             context, std::max<int64_t>(0, room));
      prompt.erase(prompt.begin(), prompt.end() - room);
    }
  }
}

ordered_json completion_json(const Completion& c, const tok::HfTokenizer& tokenizer) {
  ordered_json cj{{"text", c.text},
                  {"num_tokens", c.tokens.size()},
                  {"finish_reason", c.finish_reason},
                  {"tokens", c.tokens},
                  {"logprobs", c.logprobs}};
  if (!c.top_logprobs.empty()) {
    ordered_json top = ordered_json::array();
    for (const auto& alts : c.top_logprobs) {
      ordered_json a = ordered_json::array();
      for (const auto& [id, lp] : alts)
        a.push_back({{"id", id}, {"token", tokenizer.tokenizer().id_to_token(id).value_or("")}, {"logprob", lp}});
      top.push_back(a);
    }
    cj["top_logprobs"] = top;
  }
  return cj;
}

// One JSON line per prompt (its completions in order) to --output or stdout.
void write_completions(const GenerateFlags& f, const PromptFile& pf, const std::vector<Completion>& outs,
                       const tok::HfTokenizer& tokenizer) {
  std::ofstream file;
  if (!f.output.empty()) {
    file.open(f.output);
    if (!file) fail("--output {}: cannot open for writing", f.output);
  }
  std::ostream& out = f.output.empty() ? std::cout : file;
  for (size_t i = 0; i < pf.prompts.size(); ++i) {
    ordered_json rec;
    rec["index"] = i;
    if (pf.records[i].contains("id")) rec["id"] = pf.records[i]["id"];
    rec["prompt_tokens"] = pf.prompts[i].size();
    ordered_json comps = ordered_json::array();
    for (int j = 0; j < f.n; ++j) comps.push_back(completion_json(outs[i * f.n + j], tokenizer));
    rec["completions"] = comps;
    out << rec.dump() << "\n";
  }
  out.flush();
  if (!out) fail("writing the completions failed (disk full?)");
}

}  // namespace

int generate_command(const GenerateFlags& f) {
  const ModelLocation loc = locate_model(f.model);
  const bool cuda_ok = PT_HAVE_CUDA && torch::cuda::is_available();
  if (f.device == "cuda" && !cuda_ok) fail("--device cuda: no CUDA device is available");
  if (f.device != "auto" && f.device != "cpu" && f.device != "cuda")
    fail("--device: expected auto, cpu or cuda, got '{}'", f.device);
  const at::Device device = (f.device != "cpu" && cuda_ok) ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
  auto tokenizer = tok::HfTokenizer::from_dir(loc.tokenizer);
  PromptFile pf = read_prompts(f, tokenizer);
  auto model = load_model(loc, f.dtype, device);
  fit_prompts(pf, f, *model);
  SamplingParams base = f.sampling;
  if (base.stop_ids.empty()) {
    if (auto e = tokenizer.eos_id()) base.stop_ids.push_back(*e);
    if (auto e = model->config().eos_token_id) base.stop_ids.push_back(static_cast<int32_t>(*e));
  }
  std::vector<Request> reqs;
  for (size_t i = 0; i < pf.prompts.size(); ++i)
    for (int j = 0; j < f.n; ++j) {
      Request r{pf.prompts[i], base};
      r.params.seed = f.sampling.seed + i * static_cast<uint64_t>(f.n) + static_cast<uint64_t>(j);
      reqs.push_back(std::move(r));
    }
  EngineOptions eo;
  eo.max_batch = f.max_batch;
  eo.max_seq_len = f.max_seq_len;
  eo.max_cache_gb = f.max_cache_gb;
  Engine engine(*model, &tokenizer, eo);
  const bool tty = f.progress && ::isatty(STDERR_FILENO);
  auto outs = engine.generate(reqs, [&](const Progress& p) {
    if (!tty) return;
    std::fprintf(stderr, "\r  generating: %lld/%lld sequences, %lld tokens, %.0f tokens/s   ", (long long)p.done,
                 (long long)p.total, (long long)p.generated_tokens, p.generated_tokens / std::max(p.seconds, 1e-9));
  });
  if (tty) std::fprintf(stderr, "\n");
  write_completions(f, pf, outs, tokenizer);
  const auto& st = engine.last_run();
  log::info("generated {} completions for {} prompts: {} tokens in {:.2f}s ({:.0f} tokens/s) on {}", reqs.size(),
            pf.prompts.size(), st.generated_tokens, st.seconds, st.generated_tokens / std::max(st.seconds, 1e-9),
            device.str());
  return 0;
}

}  // namespace pt::gen
