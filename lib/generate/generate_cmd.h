#pragma once
// `posttrain generate`: batch inference from the same binary, on an HF model directory, a run
// directory or a checkpoint directory (LoRA runs included), over a JSONL file of prompts.
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "generate/sampler.h"

namespace pt::model {
class CausalLM;
}
namespace pt::tok {
class HfTokenizer;
}

namespace pt::gen {

struct GenerateFlags {
  std::string model, input, output;  // output "" = stdout
  SamplingParams sampling;           // seed: the first prompt's; prompt i sample j uses seed + i * n + j
  int n = 1;                         // completions per prompt
  int64_t max_batch = 64, max_seq_len = 0;
  double max_cache_gb = 0;
  bool truncate_prompts = false;     // keep the last tokens of a prompt that does not fit, instead of failing
  std::string device = "auto", dtype = "auto";
  bool progress = true;
};

// Where the weights of `dir` are: an HF model directory (config.json + safetensors), optionally a
// PEFT adapter directory (adapter_config.json) over its base, found inside a run or checkpoint dir.
struct ModelLocation {
  std::string base;     // HF model directory of the base weights
  std::string adapter;  // PEFT adapter directory (LoRA), or ""
  std::string tokenizer;
};
ModelLocation locate_model(const std::string& dir);
// The model at `loc` (its PEFT adapter applied) on `device`; dtype "auto", float32, bfloat16 or float16.
std::unique_ptr<model::CausalLM> load_model(const ModelLocation& loc, const std::string& dtype, at::Device device);
// One prompt record: {"messages": [...]} or {"prompt": [...messages]} rendered with the chat template
// and its generation prompt, {"prompt": "plain text"}, or {"prompt_ids": [ids]}; `where` = file:line.
std::vector<int32_t> encode_prompt(const nlohmann::ordered_json& rec, const tok::HfTokenizer& tok,
                                   const std::string& where);

int generate_command(const GenerateFlags& flags);

}  // namespace pt::gen
