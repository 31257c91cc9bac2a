#include "algo/distill.h"

#include <filesystem>

#include "algo/logprobs.h"
#include "algo/reference.h"
#include "algo/sft.h"
#include "core/error.h"
#include "core/log.h"
#include "recipe/recipe.h"
#include "tokenizer/hf_tokenizer.h"

namespace pt::algo {
namespace fs = std::filesystem;

void check_same_tokenizer(const tok::HfTokenizer& student, const std::string& teacher_dir) {
  if (!fs::exists(fs::path(teacher_dir) / "tokenizer.json") && !fs::exists(fs::path(teacher_dir) / "tokenizer.model")) {
    log::warn("distill: teacher {} has no tokenizer files; assuming it uses the student's tokenizer", teacher_dir);
    return;
  }
  auto teacher = tok::HfTokenizer::from_dir(teacher_dir);
  const auto &s = student.tokenizer(), &t = teacher.tokenizer();
  if (s.vocab_size(true) != t.vocab_size(true))
    fail("algorithm.distill.teacher: the teacher's tokenizer ({}) has {} tokens, the student's has {}: distillation "
         "compares next-token distributions id by id and needs the same tokenizer",
         teacher_dir, t.vocab_size(true), s.vocab_size(true));
  for (int32_t id = 0; id < static_cast<int32_t>(s.vocab_size(true)); ++id) {
    auto a = s.id_to_token(id), b = t.id_to_token(id);
    if (a != b)
      fail("algorithm.distill.teacher: the teacher's tokenizer ({}) differs from the student's at id {}: '{}' vs '{}'",
           teacher_dir, id, b.value_or("<none>"), a.value_or("<none>"));
  }
  if (s.encode("Hello, world! 123", false).ids != t.encode("Hello, world! 123", false).ids)
    fail("algorithm.distill.teacher: the teacher's tokenizer ({}) splits text differently from the student's "
         "(same vocabulary, other pre-tokenization or merges)", teacher_dir);
}

Distill::Distill(const DistillOptions& opts) : o_(opts) {
  params_.temperature = o_.temperature;
  params_.top_k = o_.top_k;
  params_.beta = o_.loss == DistillLoss::ForwardKl ? 0.0 : o_.loss == DistillLoss::ReverseKl ? 1.0 : o_.beta;
}

void Distill::setup(const Context& ctx) {
  Algorithm::setup(ctx);
  if (ctx.tokenizer) check_same_tokenizer(*ctx.tokenizer, o_.teacher);
  teacher_ = load_frozen(*ctx.policy, ctx.recipe->recipe.model, o_.teacher, "teacher", false);
  vocab_ = std::min(ctx.policy->vocab_size(), teacher_->vocab_size());
  // Split vocabularies are compared rank by rank: both models must split at the same rows.
  if (vocab_shard_of(*ctx.policy).split() && (teacher_->padded_vocab_size() != ctx.policy->padded_vocab_size()))
    fail("algorithm.distill.teacher: with parallel.tensor_parallel > 1 the teacher's and the student's vocabularies "
         "must split at the same rows: teacher {} has {} rows (vocab_size {} padded), the student {} (vocab_size {}); "
         "set model.vocab_pad_multiple so both pad to the same size",
         o_.teacher, teacher_->padded_vocab_size(), teacher_->vocab_size(), ctx.policy->padded_vocab_size(),
         ctx.policy->vocab_size());
  const int64_t tok_vocab = ctx.tokenizer ? static_cast<int64_t>(ctx.tokenizer->tokenizer().vocab_size(true)) : 0;
  if (tok_vocab > vocab_)
    fail("algorithm.distill.teacher: the tokenizer has {} tokens but the teacher's vocabulary is {}", tok_vocab,
         teacher_->vocab_size());
  log::info("distill: teacher {} ({} parameters, hidden {}, {} layers), divergence over {} vocabulary entries",
            o_.teacher, teacher_->config().num_parameters(true), teacher_->config().hidden_size,
            teacher_->config().num_hidden_layers, vocab_);
}

LossOut Distill::loss(const MicroBatch& mb, const Prepared& prep) {
  // Refused rather than half-applied: the divergence has no per-position weighting.
  if (mb.label_weights.defined())
    fail("per-position loss weights (the 'weights' field of token_ids records) are applied by SFT only; distillation "
         "would ignore them in its divergence: remove them from the data or train with algorithm sft");
  const double tokens = static_cast<double>(std::max<int64_t>(1, prep.global_trained));
  at::Tensor idx = labelled_positions(mb);
  at::Tensor hidden = ctx_.policy->hidden_states(mb.input);
  at::Tensor teacher_hidden;
  {
    at::NoGradGuard ng;
    teacher_hidden = teacher_->hidden_states(mb.input).index_select(0, idx);
  }
  at::Tensor hs = hidden.index_select(0, idx);
  at::Tensor div = vocab_parallel_distillation(hs, ctx_.policy->lm_head_weight(), teacher_hidden,
                                               teacher_->lm_head_weight(), vocab_, o_.chunk_tokens, params_,
                                               vocab_shard_of(*ctx_.policy));
  at::Tensor ce;
  if (o_.alpha < 1) {
    ce = labelled_cross_entropy(*ctx_.policy, hidden, mb, ctx_.ce_chunk);
  } else {
    at::NoGradGuard ng;  // reported, not trained on
    ce = labelled_cross_entropy(*ctx_.policy, hidden.detach(), mb, ctx_.ce_chunk);
  }
  at::Tensor sum = o_.alpha < 1 ? div * o_.alpha + ce * (1 - o_.alpha) : div;
  LossOut out;
  out.loss = prep.normalizer > 0 ? sum / prep.normalizer : sum * 0;
  out.metrics.push_back({"loss", sum.detach(), tokens});
  out.metrics.push_back({o_.loss == DistillLoss::Jsd ? "jsd" : "kl", div.detach(), tokens});
  out.metrics.push_back({"ce", ce.detach(), tokens});
  return out;
}

std::unique_ptr<Algorithm> make_distill(const recipe::Recipe& r) { return std::make_unique<Distill>(r.algorithm.distill); }

}  // namespace pt::algo
