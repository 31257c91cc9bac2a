#pragma once
// `posttrain verify-model`: our logits vs reference logits produced by transformers
// (scripts/hf_reference_logits.py). The gate every new architecture must pass.
#include <ostream>
#include <string>

#include "model/options.h"

namespace pt::model {

struct VerifyOptions {
  std::string model_dir;
  std::string reference;  // doc{i}_ids / doc{i}_logits safetensors; default MODEL_DIR/reference.safetensors
  std::string adapter;    // optional PEFT adapter dir to apply (our loader reads it as LoRA weights)
  Dtype dtype = Dtype::Float32;
  AttentionBackend attention = AttentionBackend::Sdpa;
  double atol = -1;  // default: 1e-4 fp32, 0.1 bf16/fp16
};

struct VerifyResult {
  double max_abs = 0, mean_abs = 0, kl = 0;  // kl: mean over tokens of KL(reference || ours)
  double packed_max_abs = 0;                 // all documents packed in one row vs one by one
  double atol = 0;
  bool pass = false;
};

VerifyResult verify_model(const VerifyOptions& o, std::ostream& report);

}  // namespace pt::model
