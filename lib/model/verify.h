#pragma once
// `posttrain verify-model`: our logits vs reference logits produced by transformers
// (scripts/hf_reference_logits.py). The gate every new architecture must pass.
#include <ostream>
#include <string>
#include <vector>

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
  // With float64 reference logits: our error against them, and transformers' own fp32 error (the
  // checkpoint's noise floor: it grows with depth and the logits' scale).
  double max_abs64 = -1, noise_floor = -1;
  double value_max_abs = -1;  // PPO's value head on the policy vs the reference's doc{i}_values (-1: none)
  double atol = 0;
  std::string criterion;  // how atol was chosen
  bool pass = false;
};

// The default fp32 tolerance: kNoiseFactor x the reference's own fp32-vs-fp64 error, never below
// kMinAtol (a correct implementation sums in another order, so it may differ by a few times the
// floor; a wrong RoPE theta, norm or epsilon is orders of magnitude past it). Without fp64 logits:
// kMinAtol, or kScaleRtol of the largest |logit| when that is larger.
inline constexpr double kMinAtol = 1e-4, kNoiseFactor = 4, kScaleRtol = 1e-5;

VerifyResult verify_model(const VerifyOptions& o, std::ostream& report);

}  // namespace pt::model
