#pragma once
// Recipe section `model`: which HF checkpoint, in which dtype, with which attention backend/LoRA.
#include <memory>
#include <string>
#include <vector>

#include "recipe/fields.h"

namespace pt::model {

class TpGroup;

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

enum class HeadType { None, SequenceClassification, TokenClassification, Projection };

struct HeadOptions {
  HeadType type = HeadType::None;
  int num_labels = 2;
  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("type", type,
            Spec("none = the LM head only; sequence_classification = a score head at each sequence's last token "
                 "(saved as *ForSequenceClassification); token_classification = a score head with a bias at every "
                 "token (saved as *ForTokenClassification); projection = a linear map of every token onto a separate "
                 "id space of num_labels ids (saved beside the HF model as projection_head.safetensors + "
                 "projection_head.json); created when the checkpoint has none"));
    v.field("num_labels", num_labels,
            Spec("classes (projection: size of the output id space); 1 = regression (mean squared error; sequence "
                 "classification only)")
                .min(1));
  }
};

// A model created from the recipe, without an HF checkpoint: the sizes of its config.json.
struct ModelInitOptions {
  std::string architecture = "Qwen2ForCausalLM";
  int vocab_size = 0;
  int hidden_size = 256;
  int intermediate_size = 1024;
  int num_hidden_layers = 4;
  int num_attention_heads = 4;
  int num_key_value_heads = 4;
  int head_dim = 0;
  int max_position_embeddings = 2048;
  double rope_theta = 10000.0;
  double rms_norm_eps = 1e-6;
  double initializer_range = 0.02;
  bool tie_word_embeddings = true;
  // Not recipe keys: the run fills them from its tokenizer, so that a created model's config.json
  // and generation_config.json name its special tokens as a downloaded checkpoint's do (transformers'
  // generate stops at eos_token_id; *ForSequenceClassification finds the last token by pad_token_id).
  std::optional<int64_t> bos_token_id, eos_token_id, pad_token_id;
  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("architecture", architecture, Spec("HF class of the new model (posttrain list architecture)"));
    v.field("vocab_size", vocab_size, Spec("size of the id space (events, semantic ids, tokens)").min(1).req());
    v.field("hidden_size", hidden_size, Spec("model width").min(1));
    v.field("intermediate_size", intermediate_size, Spec("MLP width").min(1));
    v.field("num_hidden_layers", num_hidden_layers, Spec("decoder layers").min(1));
    v.field("num_attention_heads", num_attention_heads, Spec("query heads").min(1));
    v.field("num_key_value_heads", num_key_value_heads, Spec("key/value heads (GQA)").min(1));
    v.field("head_dim", head_dim, Spec("per-head width; 0 = hidden_size / num_attention_heads").min(0));
    v.field("max_position_embeddings", max_position_embeddings, Spec("longest sequence").min(1));
    v.field("rope_theta", rope_theta, Spec("RoPE base").gt(0));
    v.field("rms_norm_eps", rms_norm_eps, Spec("RMSNorm epsilon").gt(0));
    v.field("initializer_range", initializer_range, Spec("std of the normal initialization (as transformers)").gt(0));
    v.field("tie_word_embeddings", tie_word_embeddings, Spec("share the embedding and the LM head"));
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
  std::optional<ModelInitOptions> init;
  // Not a recipe key: set by the run for PPO with critic.model: policy (a value head on the policy,
  // loaded from the directory's value_head.safetensors when it has one, else new).
  bool value_head = false;

  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("path", path, Spec("Hugging Face model directory (config.json + safetensors) or a GGUF file (dequantized on load; its tokenizer and chat template serve tokenizer.path); empty with model.init"));
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
    v.field("init", init,
            Spec("create a randomly initialized model of these sizes instead of loading model.path (event sequences, "
                 "new id spaces); saved in HF format like any other"));
  }
};

// How a model is loaded in this process (decided by the run, not recipe keys: recipe structs stay
// plain data).
struct LoadContext {
  // Parameters (by name) that the loader only checks against the checkpoint and creates without
  // memory, because a sharding strategy reads its own slices of them (fsdp ZeRO-3).
  std::function<bool(const std::string&)> defer_param;
  // The tensor-parallel group the model is split over (parallel.tensor_parallel); null = the whole
  // model on this rank. The loader reads only this rank's slices.
  std::shared_ptr<TpGroup> tp;
};

}  // namespace pt::model

PT_RECIPE_ENUM(pt::model::Dtype, {pt::model::Dtype::Auto, "auto"}, {pt::model::Dtype::Float32, "float32"},
               {pt::model::Dtype::BFloat16, "bfloat16"}, {pt::model::Dtype::Float16, "float16"})
PT_RECIPE_ENUM(pt::model::HeadType, {pt::model::HeadType::None, "none"},
               {pt::model::HeadType::SequenceClassification, "sequence_classification"},
               {pt::model::HeadType::TokenClassification, "token_classification"},
               {pt::model::HeadType::Projection, "projection"})
PT_RECIPE_ENUM(pt::model::AttentionBackend, {pt::model::AttentionBackend::Auto, "auto"},
               {pt::model::AttentionBackend::Eager, "eager"}, {pt::model::AttentionBackend::Sdpa, "sdpa"},
               {pt::model::AttentionBackend::Flash, "flash"})
