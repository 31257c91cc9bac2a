#include "algo/kto.h"

#include <algorithm>

#include "algo/doc_logps.h"
#include "algo/reference.h"
#include "core/error.h"
#include "core/log.h"
#include "data/example.h"
#include "data/packer.h"
#include "parallel/world.h"
#include "recipe/recipe.h"

namespace pt::algo {

namespace {

// A document of a packed row split at its first trained token: the prompt, and the completion (its
// trained tokens; untrained tokens after them, a template's trailing newline, are left out).
struct PromptCompletion {
  std::vector<int32_t> prompt, completion;
};

std::vector<PromptCompletion> split_documents(const std::vector<data::Row>& rows) {
  std::vector<PromptCompletion> out;
  for (const auto& row : rows) {
    int64_t off = 0;
    for (size_t d = 0; d < row.doc_lens.size(); ++d) {
      const int64_t len = row.doc_lens[d];
      if (row.doc_source[d] >= 0) {
        // labels are shifted: position t is trained when labels[t - 1] is set.
        int64_t first = -1, last = -1;
        for (int64_t t = 1; t < len; ++t)
          if (row.labels[static_cast<size_t>(off + t - 1)] != data::kIgnoreIndex) {
            if (first < 0) first = t;
            last = t;
          }
        if (first > 0) {
          auto at = row.input_ids.begin() + off;
          out.push_back({{at, at + first}, {at + first, at + last + 1}});
        }
      }
      off += len;
    }
  }
  return out;
}

}  // namespace

Kto::Kto(const KtoOptions& opts, std::string model_path) : o_(opts), model_path_(std::move(model_path)) {
  params_.beta = o_.beta;
  params_.desirable_weight = o_.desirable_weight;
  params_.undesirable_weight = o_.undesirable_weight;
}

void Kto::setup(const Context& ctx) {
  Algorithm::setup(ctx);
  mode_ = resolve_reference(o_.reference, ctx.policy->has_adapters(), o_.reference_path, "algorithm.kto");
  if (mode_ == DpoReference::Model) {
    const std::string path = o_.reference_path.empty() ? model_path_ : o_.reference_path;
    ref_ = load_frozen(*ctx.policy, ctx.recipe->recipe.model, path, "reference model", true);
    log::info("kto: reference = frozen copy of {}", path);
  } else {
    log::info("kto: reference = the policy with its LoRA adapters switched off");
  }
}

double Kto::kl_reference_point(const data::StepBatch& batch, bool training) {
  const auto docs = split_documents(batch.rows);
  double sum = 0, count = 0;
  if (!docs.empty()) {
    at::NoGradGuard ng;
    // Prompt i with the completion of the example before it (the last one's for the first).
    auto mismatched = [&](size_t i) -> const std::vector<int32_t>& {
      return docs[(i + docs.size() - 1) % docs.size()].completion;
    };
    std::vector<int64_t> lengths;
    for (size_t i = 0; i < docs.size(); ++i)
      lengths.push_back(static_cast<int64_t>(docs[i].prompt.size() + mismatched(i).size()));
    for (const auto& group : group_by_budget(lengths, micro_budget(ctx_))) {
      std::vector<data::Row> rows;
      for (size_t i : group) rows.push_back(completion_row(docs[i].prompt, mismatched(i), rows.size()));
      MicroBatch mb = make_micro_batch(rows, 0, rows.size(), ctx_.device);
      at::Tensor d = doc_logps(*ctx_.policy, mb, ctx_.ce_chunk) - reference_doc_logps(ref_.get(), *ctx_.policy, mb, ctx_.ce_chunk);
      for (const auto& u : mb.units) sum += d[u[0]].item<double>();
      count += static_cast<double>(mb.units.size());
    }
  }
  std::vector<double> totals{sum, count};
  if (training && ctx_.world->size() > 1) totals = ctx_.world->allreduce_sum(totals);
  return totals[1] > 0 ? std::max(0.0, totals[0] / totals[1]) : 0.0;
}

Prepared Kto::prepare(data::StepBatch& batch, bool training) {
  Prepared p = Algorithm::prepare(batch, training);
  double desirable = 0, undesirable = 0;
  for (const auto& mb : p.micro)
    for (const auto& meta : mb.unit_meta) (meta.value("label", false) ? desirable : undesirable) += 1;
  std::vector<double> counts{desirable, undesirable};
  if (training && ctx_.world->size() > 1) counts = ctx_.world->allreduce_sum(counts);
  const double z0 = kl_reference_point(batch, training);
  p.normalizer = std::max(1.0, counts[0] + counts[1]);
  p.step_data = std::make_shared<KtoTotals>(counts[0], counts[1], z0);
  // The same z0 on every rank: metric sums add over ranks, so each contributes its share.
  const double ranks = training ? static_cast<double>(ctx_.world->size()) : 1.0;
  p.metrics.push_back({"kl", at::scalar_tensor(z0, at::kDouble), ranks});
  return p;
}

LossOut Kto::loss(const MicroBatch& mb, size_t, const Prepared& prep) {
  const auto& n = prep.data<KtoTotals>();
  const double desirable_n = std::max(1.0, n.desirable), undesirable_n = std::max(1.0, n.undesirable);
  std::vector<int64_t> docs;
  std::vector<uint8_t> desirable;
  for (size_t u = 0; u < mb.units.size(); ++u) {
    PT_CHECK(mb.unit_meta[u].is_object() && mb.unit_meta[u].contains("label"),
             "kto: an example without a label reached the loss");
    docs.push_back(mb.units[u][0]);
    desirable.push_back(mb.unit_meta[u]["label"].get<bool>());
  }
  const auto dev = mb.labels.device();
  at::Tensor idx = at::tensor(docs, at::TensorOptions().dtype(at::kLong)).to(dev);
  at::Tensor good = at::tensor(desirable, at::TensorOptions().dtype(at::kByte)).to(at::kBool).to(dev);
  at::Tensor lp = doc_logps(*ctx_.policy, mb, ctx_.ce_chunk).index_select(0, idx);
  at::Tensor ref = reference_doc_logps(ref_.get(), *ctx_.policy, mb, ctx_.ce_chunk).index_select(0, idx);
  const auto k = kto_loss(lp - ref, good, n.z0, params_);
  LossOut out;
  at::Tensor sum = k.loss.sum();
  out.loss = sum / prep.normalizer;
  out.metrics.push_back({"loss", sum.detach(), prep.normalizer});
  const at::Tensor g = good.to(k.reward.scalar_type()), b = 1 - g;
  out.metrics.push_back({"rewards/chosen", (k.reward * g).sum(), desirable_n});
  out.metrics.push_back({"rewards/rejected", (k.reward * b).sum(), undesirable_n});
  out.metrics.push_back({"logps/chosen", (lp.detach() * g).sum(), desirable_n});
  out.metrics.push_back({"logps/rejected", (lp.detach() * b).sum(), undesirable_n});
  return out;
}

std::unique_ptr<Algorithm> make_kto(const recipe::Recipe& r) {
  return std::make_unique<Kto>(r.algorithm.kto, r.model.path);
}

}  // namespace pt::algo
