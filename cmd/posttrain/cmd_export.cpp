#include <filesystem>

#include "checkpoint/pieces.h"
#include "cmd/posttrain/commands.h"
#include "core/error.h"
#include "core/log.h"
#include "generate/generate_cmd.h"
#include "gguf/from_hf.h"
#include "gguf/import.h"
#include "model/causal_lm.h"
#include "train/consolidate.h"

namespace pt::cmd {

namespace {
namespace fs = std::filesystem;

gguf::TensorType gguf_type(const std::string& t) {
  if (t == "f32") return gguf::TensorType::F32;
  if (t == "f16") return gguf::TensorType::F16;
  if (t == "bf16") return gguf::TensorType::BF16;
  if (t == "q8_0") return gguf::TensorType::Q8_0;
  fail("--type: expected f32, f16, bf16 or q8_0, got '{}'", t);
}

// A model, run or checkpoint directory as one GGUF file: ZeRO-3 shards joined and LoRA adapters
// merged first (in a scratch directory beside the output).
void export_gguf(const std::string& src, const std::string& out, const std::string& type_name) {
  const auto type = gguf_type(type_name);
  const fs::path scratch = fs::path(out).string() + ".staging";
  fs::remove_all(scratch);
  struct Cleanup {
    fs::path p;
    ~Cleanup() { fs::remove_all(p); }
  } cleanup{scratch};
  std::string dir = src;
  if (fs::is_directory(fs::path(src) / ckpt::kModelShardsDir)) {
    train::export_checkpoint(src, (scratch / "joined").string());
    dir = (scratch / "joined").string();
  }
  const gen::ModelLocation loc = gen::locate_model(dir);
  std::string model_dir = loc.base;
  if (!loc.adapter.empty()) {
    auto m = gen::load_model(loc, "float32", at::kCPU);
    m->save_pretrained((scratch / "lora").string(), /*merge_lora=*/true);
    model_dir = (scratch / "lora" / "merged").string();
    log::info("GGUF export: LoRA adapter {} merged into {}", loc.adapter, loc.base);
  }
  gguf::export_hf_dir(model_dir, loc.tokenizer, out, type);
}

// A GGUF file as an HF model directory (the conversion every command applies to a GGUF model path).
void export_gguf_as_hf(const std::string& file, const std::string& out) {
  if (fs::exists(out) && !fs::is_empty(out)) fail("{}: exists and is not empty (the HF model needs a new directory)", out);
  const std::string staging = out + ".staging";
  fs::remove_all(staging);
  gguf::convert_to_hf(file, staging);
  fs::remove_all(out);
  fs::rename(staging, out);
}
}  // namespace

void add_export_command(CLI::App& app) {
  auto* sub = app.add_subcommand("export", "Write a checkpoint as one Hugging Face model (joins fsdp ZeRO-3 shards), "
                                           "or a model, run or checkpoint as a GGUF file for llama.cpp / Ollama");
  static std::string checkpoint, out, format = "hf", type = "f16";
  sub->add_option("checkpoint", checkpoint, "checkpoint directory (RUN/checkpoints/step-N), or a GGUF file (dequantized "
                                            "into an HF model); with --format gguf also an HF model or run directory")
      ->required()
      ->check(CLI::ExistingPath);
  sub->add_option("out", out, "new directory for the HF model, or the .gguf file")->required();
  sub->add_option("--format", format, "hf or gguf")->capture_default_str();
  sub->add_option("--type", type, "gguf: f32, f16, bf16 or q8_0 for the weight matrices (norms stay f32)")
      ->capture_default_str();
  sub->callback([] {
    if (format == "gguf") export_gguf(checkpoint, out, type);
    else if (format == "hf" && gguf::is_gguf(checkpoint)) export_gguf_as_hf(checkpoint, out);
    else if (format == "hf") train::export_checkpoint(checkpoint, out);
    else fail("--format: expected hf or gguf, got '{}'", format);
    exit_code() = 0;
  });
}

}  // namespace pt::cmd
