// A reward model as a reward function: an HF *ForSequenceClassification checkpoint (num_labels 1)
// loaded into our decoder with its score head (lib/model), scoring the prompt text followed by the
// completion as sampled (special tokens included, so a chat's end-of-turn token ends it), tokenized
// with the reward model's own tokenizer, in packed batches without gradients.
#include <torch/cuda.h>

#include <filesystem>

#include "core/error.h"
#include "core/log.h"
#include "gguf/import.h"
#include "model/causal_lm.h"
#include "posttrain/build_config.h"
#include "rl/rewards.h"
#include "tokenizer/hf_tokenizer.h"

namespace pt::rl {

namespace {

class RewardModel : public RewardFunction {
 public:
  explicit RewardModel(const algo::RewardOptions& o) : label_(o.label.empty() ? o.name : o.label) {
    if (o.model.empty()) fail("algorithm.grpo.rewards: reward 'model' needs model: a *ForSequenceClassification directory");
    model::ModelOptions mo;
    mo.path = o.model;
    const bool cuda = PT_HAVE_CUDA && torch::cuda::is_available();
    rm_ = model::CausalLM::from_pretrained(mo, cuda ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU));
    if (!rm_->has_score_head())
      fail("reward '{}': {} is a {}, not a *ForSequenceClassification reward model", label_, o.model,
           rm_->config().hf_class);
    if (rm_->config().num_labels != 1)
      fail("reward '{}': {} has {} labels; a reward model has one (num_labels 1)", label_, o.model,
           rm_->config().num_labels);
    for (auto& [n, p] : rm_->named_parameters(false)) p.requires_grad_(false);
    rm_->train(false);
    tok_ = std::make_unique<tok::HfTokenizer>(tok::HfTokenizer::from_dir(gguf::tokenizer_dir(o.model)));
    log::info("reward '{}': reward model {} ({} parameters)", label_, o.model, rm_->config().num_parameters(true));
  }

  std::vector<double> score(const std::vector<RewardSample>& batch) override {
    at::NoGradGuard ng;
    std::vector<double> out;
    const size_t group = 32;
    for (size_t b = 0; b < batch.size(); b += group) {
      std::vector<std::vector<int64_t>> docs;
      for (size_t i = b; i < std::min(batch.size(), b + group); ++i) {
        // The conversation as the policy produced it, its end-of-turn token included: a reward model
        // trained by algorithm reward_model reads its score there.
        const std::string& completion = batch[i].completion_raw.empty() ? batch[i].completion : batch[i].completion_raw;
        auto ids = tok_->tokenizer().encode(batch[i].prompt + completion, true).ids;
        docs.emplace_back(ids.begin(), ids.end());
      }
      at::Tensor s = rm_->score_logits(model::PackedInput::from_documents(docs, rm_->device())).to(at::kCPU);
      for (int64_t i = 0; i < s.size(0); ++i) out.push_back(s[i][0].item<double>());
    }
    return out;
  }

 private:
  std::string label_;
  std::unique_ptr<model::CausalLM> rm_;
  std::unique_ptr<tok::HfTokenizer> tok_;
};

}  // namespace

std::unique_ptr<RewardFunction> make_reward_model(const algo::RewardOptions& o) {
  return std::make_unique<RewardModel>(o);
}

}  // namespace pt::rl
