#include "algo/distill.h"

#include <filesystem>

#include "algo/logprobs.h"
#include "algo/reference.h"
#include "algo/sft.h"
#include "rl/controller.h"
#include "core/error.h"
#include "core/log.h"
#include "data/rng.h"
#include "gguf/import.h"
#include "parallel/world.h"
#include "recipe/recipe.h"
#include "tokenizer/hf_tokenizer.h"

namespace pt::algo {
namespace fs = std::filesystem;

void check_same_tokenizer(const tok::HfTokenizer& student, const std::string& teacher_path) {
  const std::string teacher_dir = gguf::model_dir(teacher_path);
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

Distill::Distill(const DistillOptions& opts, uint64_t seed) : o_(opts), seed_(seed) {
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
  if (o_.on_policy > 0) {
    // The controller's rollout stage only: one sample per prompt at the distillation temperature.
    GrpoOptions g;
    g.group_size = 1;
    g.temperature = o_.temperature;
    g.max_new_tokens = o_.max_new_tokens;
    g.max_batch = o_.max_batch;
    g.rollout_ranks = o_.rollout_ranks;
    controller_ = std::make_unique<rl::Controller>(g, rl::StageFactories{}, seed_, *ctx.policy, ctx.tokenizer, ctx.autocast_bf16);
    log::info("distill: on-policy on {:.0f}% of steps (the student samples up to {} tokens per answer)",
              100 * o_.on_policy, o_.max_new_tokens);
  }
}

bool Distill::on_policy_step(int64_t step) const {
  if (o_.on_policy <= 0) return false;
  // A uniform draw per step from (seed, step), the same on every rank.
  const uint64_t h = data::hash3(seed_, static_cast<uint64_t>(step), 0x6f6e706f6c696379ull);
  return static_cast<double>(h >> 11) * 0x1.0p-53 < o_.on_policy;
}

Prepared Distill::prepare(data::StepBatch& batch, bool training) {
  sampled_ = training && on_policy_step(static_cast<int64_t>(batch.step));
  return sampled_ ? prepare_on_policy(batch) : Algorithm::prepare(batch, training);
}

Prepared Distill::prepare_on_policy(data::StepBatch& batch) {
  // Prompts: each document up to its last trained span (the final answer; earlier turns stay context).
  rl::PromptBatch pb;
  for (const auto& row : batch.rows) {
    size_t start = 0;
    for (size_t d = 0; d < row.doc_lens.size(); start += static_cast<size_t>(row.doc_lens[d]), ++d) {
      if (row.doc_source[d] < 0) continue;  // padding
      const size_t end = start + static_cast<size_t>(row.doc_lens[d]);
      // labels are shifted: position i trains token i + 1, so the answer starts one past the span.
      size_t last = end;
      while (last > start && row.labels[last - 1] == data::kIgnoreIndex) --last;
      size_t first = last;
      while (first > start && row.labels[first - 1] != data::kIgnoreIndex) --first;
      if (first == last) continue;  // nothing trained in this document
      pb.prompts.emplace_back(row.input_ids.begin() + static_cast<std::ptrdiff_t>(start),
                              row.input_ids.begin() + static_cast<std::ptrdiff_t>(first + 1));
      pb.records.push_back(nlohmann::json::object());
      pb.global_index.push_back(row.index * 4096 + d);
    }
  }
  rl::Rollouts r = controller_->rollout(pb, static_cast<int64_t>(batch.step), true);
  // The samples as training sequences, packed into micro-batches of the usual token budget.
  Prepared prep;
  prep.global_rows = batch.global_rows;
  double local[2] = {0, 0};  // tokens, trained
  std::vector<size_t> answered;
  std::vector<int64_t> lengths;
  for (size_t i = 0; i < r.completions.size(); ++i) {
    const auto& c = r.completions[i].tokens;
    if (c.empty()) continue;
    answered.push_back(i);
    lengths.push_back(static_cast<int64_t>(pb.prompts[r.prompt_of[i]].size() + c.size()));
    local[0] += static_cast<double>(lengths.back());
    local[1] += static_cast<double>(c.size());
  }
  for (const auto& group : group_by_budget(lengths, micro_budget(ctx_))) {
    std::vector<data::Row> rows;
    for (size_t j : group) {
      const size_t i = answered[j];
      rows.push_back(completion_row(pb.prompts[r.prompt_of[i]], r.completions[i].tokens, rows.size()));
    }
    prep.micro.push_back(make_micro_batch(rows, 0, rows.size(), ctx_.device));
  }
  std::vector<double> global{local[0], local[1], static_cast<double>(r.completions.size())};
  if (ctx_.world->size() > 1) global = ctx_.world->allreduce_sum(global);
  prep.global_tokens = static_cast<int64_t>(global[0]);
  prep.global_trained = static_cast<int64_t>(global[1]);
  prep.normalizer = global[1];
  const double ranks = static_cast<double>(ctx_.world->size());
  prep.metrics.push_back({"on_policy", at::scalar_tensor(1.0, at::kDouble), ranks});
  prep.metrics.push_back({"completion_length", at::scalar_tensor(local[1], at::kDouble), std::max(1.0, global[2])});
  prep.metrics.push_back({"time/rollout_s", at::scalar_tensor(r.rollout_s, at::kDouble), ranks});
  return prep;
}

LossOut Distill::loss(const MicroBatch& mb, size_t, const Prepared& prep) {
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
  // The cross-entropy term is on the dataset's answers: a step on the student's own samples has none
  // (GKD's on-policy loss is the divergence alone).
  const double alpha = sampled_ ? 1.0 : o_.alpha;
  if (alpha < 1) {
    ce = labelled_cross_entropy(*ctx_.policy, hidden, mb, ctx_.ce_chunk);
  } else {
    at::NoGradGuard ng;  // reported, not trained on
    ce = labelled_cross_entropy(*ctx_.policy, hidden.detach(), mb, ctx_.ce_chunk);
  }
  at::Tensor sum = alpha < 1 ? div * alpha + ce * (1 - alpha) : div;
  LossOut out;
  out.loss = prep.normalizer > 0 ? sum / prep.normalizer : sum * 0;
  out.metrics.push_back({"loss", sum.detach(), tokens});
  out.metrics.push_back({o_.loss == DistillLoss::Jsd ? "jsd" : "kl", div.detach(), tokens});
  out.metrics.push_back({"ce", ce.detach(), tokens});
  return out;
}

Distill::~Distill() = default;

std::unique_ptr<Algorithm> make_distill(const recipe::Recipe& r) {
  return std::make_unique<Distill>(r.algorithm.distill, static_cast<uint64_t>(r.run.seed));
}

}  // namespace pt::algo
