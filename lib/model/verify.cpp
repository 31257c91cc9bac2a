#include "model/verify.h"

#include <filesystem>

#include "core/error.h"
#include "gguf/import.h"
#include "model/causal_lm.h"
#include "model/safetensors.h"

namespace pt::model {

VerifyResult verify_model(const VerifyOptions& o, std::ostream& report) {
  // Beside a GGUF file: FILE.reference.safetensors; in a model directory: reference.safetensors.
  const bool file = gguf::is_gguf(o.model_dir);
  std::string ref_path = !o.reference.empty() ? o.reference
                         : file ? (std::filesystem::path(o.model_dir).replace_extension("").string() + ".reference.safetensors")
                                : o.model_dir + "/reference.safetensors";
  if (!std::filesystem::exists(ref_path))
    fail("no reference logits at '{}': create them with scripts/hf_reference_logits.py {} {}", ref_path, o.model_dir,
         ref_path);
  ModelOptions mo;
  mo.path = o.model_dir;
  mo.dtype = o.dtype;
  mo.attention = o.attention;
  // PPO's value head on the policy, when the directory carries one: gated too (doc{i}_values).
  mo.value_head = !file && std::filesystem::exists(std::filesystem::path(o.model_dir) / "value_head.safetensors");
  auto model = CausalLM::from_pretrained(mo, at::kCPU);
  model->train(false);
  SafetensorsFile ref(ref_path);
  std::vector<std::vector<int64_t>> docs;
  std::vector<at::Tensor> expected, expected64;
  for (int i = 0; ref.contains("doc" + std::to_string(i) + "_ids"); ++i) {
    const std::string d = "doc" + std::to_string(i);
    auto ids = ref.view(d + "_ids").to(at::kLong).contiguous();
    docs.emplace_back(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel());
    expected.push_back(ref.view(d + "_logits").to(at::kFloat));
    if (ref.contains(d + "_logits64")) expected64.push_back(ref.view(d + "_logits64").to(at::kDouble));
  }
  if (!expected64.empty() && expected64.size() != expected.size())
    fail("{}: float64 logits for {} of {} documents", ref_path, expected64.size(), expected.size());
  if (docs.empty()) fail("{}: no doc0_ids / doc0_logits tensors", ref_path);

  at::NoGradGuard ng;
  // A *ForSequenceClassification checkpoint is gated on its score head (one row per document).
  // A *ForTokenClassification checkpoint on its head at every token.
  const bool classifier = model->config().sequence_classification;
  const bool tagger = model->config().token_classification;
  auto run = [&](const PackedInput& in) {
    if (tagger) return model->token_score_logits(model->hidden_states(in));
    return classifier ? model->score_logits(in) : model->logits(in);
  };
  VerifyResult r;
  double abs_sum = 0, kl_sum = 0, scale = 0;
  int64_t count = 0, tokens = 0;
  std::vector<at::Tensor> ours;
  for (size_t i = 0; i < docs.size(); ++i) {
    auto logits = run(PackedInput::from_documents({docs[i]})).to(at::kFloat);
    if (logits.sizes() != expected[i].sizes())
      fail("document {}: our logits are [{}] but the reference is [{}]", i, fmt::join(logits.sizes(), ", "),
           fmt::join(expected[i].sizes(), ", "));
    auto d = (logits - expected[i]).abs();
    r.max_abs = std::max(r.max_abs, d.max().item<double>());
    if (!expected64.empty()) {
      r.max_abs64 = std::max(r.max_abs64, (logits.to(at::kDouble) - expected64[i]).abs().max().item<double>());
      r.noise_floor = std::max(r.noise_floor, (expected[i].to(at::kDouble) - expected64[i]).abs().max().item<double>());
    }
    scale = std::max(scale, expected[i].abs().max().item<double>());
    abs_sum += d.sum().item<double>();
    count += d.numel();
    auto lp_ref = at::log_softmax(expected[i].to(at::kDouble), -1), lp_ours = at::log_softmax(logits.to(at::kDouble), -1);
    kl_sum += (lp_ref.exp() * (lp_ref - lp_ours)).sum().item<double>();
    tokens += logits.size(0);
    ours.push_back(logits);
  }
  if (mo.value_head) {
    if (!ref.contains("doc0_values"))
      fail("{} has a value head (value_head.safetensors) but {} has no doc0_values: recreate it with "
           "scripts/hf_reference_logits.py", o.model_dir, ref_path);
    for (size_t i = 0; i < docs.size(); ++i) {
      auto values = model->value_head(model->hidden_states(PackedInput::from_documents({docs[i]})));
      auto want = ref.view("doc" + std::to_string(i) + "_values").to(at::kFloat);
      if (values.sizes() != want.sizes())
        fail("document {}: our values are [{}] but the reference's are [{}]", i, fmt::join(values.sizes(), ", "),
             fmt::join(want.sizes(), ", "));
      r.value_max_abs = std::max(r.value_max_abs, (values - want).abs().max().item<double>());
    }
  }
  auto packed = run(PackedInput::from_documents(docs)).to(at::kFloat);
  r.packed_max_abs = (packed - at::cat(ours, 0)).abs().max().item<double>();
  r.mean_abs = abs_sum / static_cast<double>(count);
  r.kl = kl_sum / static_cast<double>(tokens);
  const bool fp32 = o.dtype == Dtype::Float32 || o.dtype == Dtype::Auto;
  bool vs64 = false;  // judged against the fp64 logits
  if (o.atol > 0) {
    r.atol = o.atol;
    r.criterion = "--atol";
  } else if (!fp32) {
    r.atol = 0.1;
    r.criterion = "reduced-precision default";
  } else if (r.noise_floor >= 0) {
    r.atol = std::max(kMinAtol, kNoiseFactor * r.noise_floor);
    vs64 = true;
    r.criterion = fmt::format("max({:.0e}, {} x the reference's fp32-vs-fp64 error {:.2e})", kMinAtol, kNoiseFactor,
                              r.noise_floor);
  } else {
    r.atol = std::max(kMinAtol, kScaleRtol * scale);
    r.criterion = fmt::format("max({:.0e}, {:.0e} x max |logit| {:.1f}); no fp64 reference", kMinAtol, kScaleRtol, scale);
  }
  // Against fp64 logits when there are some (our error, not the sum of ours and the reference's).
  const double err = vs64 ? r.max_abs64 : r.max_abs;
  r.pass = err <= r.atol && r.packed_max_abs <= r.atol && r.value_max_abs <= r.atol;
  report << fmt::format("{:<20} {}\n", "architecture", model->config().hf_class);
  report << fmt::format("{:<20} {} documents, {} tokens, vocab {}\n", "inputs", docs.size(), tokens,
                        model->vocab_size());
  report << fmt::format("{:<20} {:.3e}\n{:<20} {:.3e}\n{:<20} {:.3e}\n{:<20} {:.3e}\n", "max abs diff", r.max_abs,
                        "mean abs diff", r.mean_abs, "KL(ref || ours)", r.kl, "packed vs unpacked", r.packed_max_abs);
  if (r.max_abs64 >= 0)
    report << fmt::format("{:<20} {:.3e} (transformers fp32 vs fp64: {:.3e}; max |logit| {:.1f})\n", "vs fp64",
                          r.max_abs64, r.noise_floor, scale);
  if (r.value_max_abs >= 0) report << fmt::format("{:<20} {:.3e}\n", "value head diff", r.value_max_abs);
  report << fmt::format("{:<20} {} (tolerance {:.1e}: {})\n", "result", r.pass ? "PASS" : "FAIL", r.atol, r.criterion);
  return r;
}

}  // namespace pt::model
