#pragma once
// Recipe section `model`: which HF checkpoint, in which dtype, with which attention backend/LoRA.
#include <string>
#include <vector>

#include "recipe/fields.h"

namespace pt::model {

enum class Dtype { Auto, Float32, BFloat16, Float16 };
enum class AttentionBackend { Auto, Eager, Sdpa, Flash };

struct LoraOptions {
  int rank = 16;
  double alpha = 32.0;
  double dropout = 0.0;
  std::vector<std::string> target_modules{"q_proj", "k_proj", "v_proj", "o_proj"};
  bool merge_on_export = false;

  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("rank", rank, Spec("LoRA rank r").min(1).max(4096));
    v.field("alpha", alpha, Spec("LoRA alpha; the update is scaled by alpha / rank").gt(0));
    v.field("dropout", dropout, Spec("dropout on the LoRA input path").min(0).lt(1));
    v.field("target_modules", target_modules,
            Spec("modules that get adapters").one_of({"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                      "up_proj", "down_proj", "lm_head", "embed_tokens"}));
    v.field("merge_on_export", merge_on_export,
            Spec("also export a merged full model next to the PEFT adapter"));
  }
};

enum class HeadType { None, SequenceClassification };

struct HeadOptions {
  HeadType type = HeadType::None;
  int num_labels = 2;
  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("type", type,
            Spec("none = the LM head only; sequence_classification = a score head at each sequence's last token "
                 "(saved as *ForSequenceClassification), created when the checkpoint has none"));
    v.field("num_labels", num_labels, Spec("classes; 1 = regression (mean squared error)").min(1));
  }
};

struct ModelOptions {
  std::string path;
  Dtype dtype = Dtype::Auto;
  AttentionBackend attention = AttentionBackend::Auto;
  int vocab_pad_multiple = 64;
  bool activation_checkpointing = false;
  std::optional<LoraOptions> lora;
  HeadOptions head;

  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("path", path, Spec("Hugging Face model directory (config.json + safetensors)").req());
    v.field("dtype", dtype, Spec("parameter/compute dtype; auto = bfloat16 on GPU, float32 on CPU"));
    v.field("attention", attention,
            Spec("attention backend; auto = flash on CUDA, sdpa otherwise. All take packed rows"));
    v.field("vocab_pad_multiple", vocab_pad_multiple,
            Spec("pad embedding/LM head rows to a multiple of this (odd sizes miss fast GEMM kernels); 1 = off")
                .min(1)
                .max(4096));
    v.field("activation_checkpointing", activation_checkpointing,
            Spec("recompute each decoder block in backward to save activation memory"));
    v.field("lora", lora, Spec("LoRA adapters; null = full fine-tuning"));
    v.field("head", head, Spec("output head over the final hidden states"));
  }
};

}  // namespace pt::model

PT_RECIPE_ENUM(pt::model::Dtype, {pt::model::Dtype::Auto, "auto"}, {pt::model::Dtype::Float32, "float32"},
               {pt::model::Dtype::BFloat16, "bfloat16"}, {pt::model::Dtype::Float16, "float16"})
PT_RECIPE_ENUM(pt::model::HeadType, {pt::model::HeadType::None, "none"},
               {pt::model::HeadType::SequenceClassification, "sequence_classification"})
PT_RECIPE_ENUM(pt::model::AttentionBackend, {pt::model::AttentionBackend::Auto, "auto"},
               {pt::model::AttentionBackend::Eager, "eager"}, {pt::model::AttentionBackend::Sdpa, "sdpa"},
               {pt::model::AttentionBackend::Flash, "flash"})
