#include "cmd/posttrain/commands.h"
#include "generate/generate_cmd.h"

namespace pt::cmd {

void add_generate_command(CLI::App& app) {
  auto* sub = app.add_subcommand("generate", "Batch generation from a model, run or checkpoint directory");
  static gen::GenerateFlags f;
  f.sampling.temperature = 0;
  f.sampling.max_new_tokens = 256;
  sub->add_option("--model", f.model, "HF model directory, GGUF file, run directory or checkpoint directory (LoRA included)")
      ->required();
  sub->add_option("--input", f.input, "JSONL: {\"messages\": [...]} (chat template + generation prompt) or "
                                      "{\"prompt\": \"text\"}")
      ->required();
  sub->add_option("--output", f.output, "JSONL of completions (default: stdout)");
  sub->add_option("--temperature", f.sampling.temperature, "0 = greedy")->capture_default_str();
  sub->add_option("--top-k", f.sampling.top_k, "0 = off")->capture_default_str();
  sub->add_option("--top-p", f.sampling.top_p, "1 = off")->capture_default_str();
  sub->add_option("--min-p", f.sampling.min_p, "0 = off")->capture_default_str();
  sub->add_option("--seed", f.sampling.seed, "seed of the first completion (each gets its own)")->capture_default_str();
  sub->add_option("-n,--num-completions", f.n, "completions per prompt")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--max-new-tokens", f.sampling.max_new_tokens, "length limit")->capture_default_str();
  sub->add_option("--stop", f.sampling.stop_strings, "stop string (repeatable)");
  sub->add_option("--stop-id", f.sampling.stop_ids, "stop token id (repeatable; default: the EOS ids)");
  sub->add_option("--logprobs", f.sampling.logprobs_top_k, "also write this many top alternatives per token")
      ->capture_default_str();
  sub->add_option("--max-batch", f.max_batch, "sequences decoded together (KV-cache slots)")->capture_default_str();
  sub->add_option("--max-seq-len", f.max_seq_len, "context per sequence; 0 = the model's max_position_embeddings")
      ->capture_default_str();
  sub->add_option("--max-cache-gb", f.max_cache_gb, "refuse a KV cache larger than this; 0 = no limit")
      ->capture_default_str();
  sub->add_flag("--truncate-prompts", f.truncate_prompts, "keep the last tokens of prompts that do not fit");
  sub->add_option("--device", f.device, "auto, cpu or cuda")->capture_default_str();
  sub->add_option("--dtype", f.dtype, "auto, float32, bfloat16 or float16")->capture_default_str();
  sub->add_flag("!--no-progress", f.progress, "no progress line on a terminal");
  sub->callback([] { exit_code() = gen::generate_command(f); });
}

}  // namespace pt::cmd
