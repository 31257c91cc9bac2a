#include <torch/cuda.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include <fmt/format.h>

#include "cmd/posttrain/commands.h"
#include "core/error.h"
#include "core/log.h"
#include "eval/evaluate_task.h"
#include "generate/generate_cmd.h"
#include "model/causal_lm.h"
#include "posttrain/build_config.h"
#include "tokenizer/hf_tokenizer.h"

namespace pt::cmd {

namespace {

struct EvalFlags {
  std::string model, tasks, output, device = "auto", dtype = "auto";
  int64_t max_batch = 64;
};

int run_eval(const EvalFlags& f) {
  const auto tasks = eval::load_tasks(f.tasks);
  const gen::ModelLocation loc = gen::locate_model(f.model);
  const bool cuda_ok = PT_HAVE_CUDA && torch::cuda::is_available();
  if (f.device == "cuda" && !cuda_ok) fail("--device cuda: no CUDA device is available");
  if (f.device != "auto" && f.device != "cpu" && f.device != "cuda")
    fail("--device: expected auto, cpu or cuda, got '{}'", f.device);
  const at::Device device = (f.device != "cpu" && cuda_ok) ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
  auto tok = tok::HfTokenizer::from_dir(loc.tokenizer);
  std::vector<std::vector<eval::Item>> items;
  for (const auto& t : tasks.tasks) items.push_back(eval::read_items(t, tok));
  auto model = gen::load_model(loc, f.dtype, device);
  model->train(false);
  at::NoGradGuard ng;

  nlohmann::ordered_json report{{"model", f.model}, {"tasks", nlohmann::ordered_json::object()}};
  std::cout << fmt::format("{:<24} {:>6} {:>7}  {}\n", "task", "items", "samples", "metrics");
  for (size_t i = 0; i < tasks.tasks.size(); ++i) {
    const auto& task = tasks.tasks[i];
    const eval::TaskResult r =
        eval::run_task(*model, tok, task, items[i], f.max_batch, fmt::format("'default' of {}", loc.tokenizer));
    std::string metrics;
    nlohmann::ordered_json j{{"items", r.items}, {"samples", r.samples}};
    for (const auto& [k, v] : r.pass_at_k) {
      metrics += fmt::format("pass@{} {:.4f}  ", k, v);
      j[fmt::format("pass@{}", k)] = v;
    }
    for (const auto& [name, v] : r.means) {
      metrics += fmt::format("{} {:.4f}  ", name, v);
      j["mean/" + name] = std::isnan(v) ? nlohmann::ordered_json() : nlohmann::ordered_json(v);
    }
    metrics += fmt::format("tokens {:.1f}  truncated {:.3f}", r.mean_tokens, r.truncated);
    j["mean_tokens"] = r.mean_tokens;
    j["truncated_fraction"] = r.truncated;
    j["completions"] = r.completions;
    std::cout << fmt::format("{:<24} {:>6} {:>7}  {}\n", task.name, r.items, r.samples, metrics);
    report["tasks"][task.name] = std::move(j);
  }
  if (!f.output.empty()) {
    std::ofstream out(f.output);
    if (!out) fail("--output {}: cannot open for writing", f.output);
    out << report.dump(2) << "\n";
    if (!out) fail("--output {}: writing failed (disk full?)", f.output);
    log::info("results and every completion written to {}", f.output);
  }
  return 0;
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto* sub = app.add_subcommand("eval", "Evaluate a model (HF, GGUF, run or checkpoint directory) on JSONL task sets with "
                                         "the reward registry's scorers: greedy or sampled, pass@k; a table, and JSON");
  static EvalFlags f;
  sub->add_option("model", f.model, "HF model directory, GGUF file, run directory or checkpoint directory (LoRA included)")
      ->required();
  sub->add_option("--tasks", f.tasks, "task file (YAML: tasks: [{name, path, scorers, max_new_tokens, samples, "
                                      "pass_k, ...}])")
      ->required();
  sub->add_option("--output", f.output, "JSON of the metrics and every completion with its scores");
  sub->add_option("--max-batch", f.max_batch, "sequences decoded together (KV-cache slots)")->capture_default_str();
  sub->add_option("--device", f.device, "auto, cpu or cuda")->capture_default_str();
  sub->add_option("--dtype", f.dtype, "auto, float32, bfloat16 or float16")->capture_default_str();
  sub->callback([] { exit_code() = run_eval(f); });
}

}  // namespace pt::cmd
