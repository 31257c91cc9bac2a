#include "algo/dpo.h"

#include <filesystem>
#include <fstream>

#include "algo/doc_logps.h"
#include "algo/logprobs.h"
#include "algo/reference.h"
#include "checkpoint/checkpoint.h"
#include "core/error.h"
#include "core/log.h"
#include "data/stream.h"
#include "parallel/world.h"
#include "recipe/recipe.h"

namespace pt::algo {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kCacheFile = "reference_logps.json";

}  // namespace

Dpo::Dpo(const DpoOptions& opts, std::string model_path, std::string run_dir)
    : o_(opts), model_path_(std::move(model_path)), run_dir_(std::move(run_dir)) {
  params_.kind = o_.loss;
  params_.beta = o_.beta;
  params_.label_smoothing = o_.label_smoothing;
  params_.simpo_gamma = o_.simpo_gamma;
}

void Dpo::setup(const Context& ctx) {
  Algorithm::setup(ctx);
  if (!needs_reference()) {
    log::info("dpo: loss {} is reference-free; no reference model", recipe::enum_name(o_.loss));
    return;
  }
  mode_ = resolve_reference(o_.reference, ctx.policy->has_adapters(), o_.reference_path, "algorithm.dpo");
  const std::string path = o_.reference_path.empty() ? model_path_ : o_.reference_path;
  if (mode_ == DpoReference::Model) {
    ref_ = load_frozen(*ctx.policy, ctx.recipe->recipe.model, path, "reference model", true);
    log::info("dpo: reference = frozen copy of {}", path);
  } else if (mode_ == DpoReference::Adapters) {
    log::info("dpo: reference = the policy with its LoRA adapters switched off (no second copy)");
  } else {
    build_cache();
  }
}

void Dpo::build_cache() {
  const std::string path = o_.reference_path.empty() ? model_path_ : o_.reference_path;
  const auto& R = ctx_.recipe->recipe;
  const std::string file = (fs::path(run_dir_) / kCacheFile).string();
  // What the cached numbers depend on: the data (and tokenizer, through the encoded records), the
  // reference weights and the layout that decides what is truncated.
  const json fingerprint{{"data", ctx_.data->fingerprint()}, {"reference", fs::absolute(path).string()},
                         {"seq_len", R.data.seq_len}, {"dtype", recipe::enum_name(R.model.dtype)}};
  if (fs::exists(file)) {
    json j;
    try {
      std::ifstream in(file);
      j = json::parse(in);
      if (j.at("fingerprint") == fingerprint) {
        for (const auto& e : j.at("entries"))
          cache_[{e.at(0).get<int>(), e.at(1).get<uint32_t>(), e.at(2).get<int64_t>()}] = {e.at(3).get<double>(),
                                                                                           e.at(4).get<double>()};
        log::info("dpo: {} cached reference log-prob pairs read from {}", cache_.size(), file);
        return;
      }
      log::warn("dpo: {} was computed for other data or another reference; computing it again", file);
    } catch (const json::exception& e) {
      log::warn("dpo: {} is unreadable ({}); computing it again", file, e.what());
    }
  }
  log::info("dpo: computing reference log-probs once with a frozen copy of {} (reference: cached)", path);
  auto ref = load_frozen(*ctx_.policy, R.model, path, "reference model", true);
  at::NoGradGuard ng;
  const int64_t budget = static_cast<int64_t>(std::max(1, ctx_.rows_per_micro)) * R.data.seq_len;
  for (int split = 0; split < 2; ++split) {
    data::DocStream stream(*ctx_.data, split == 0 ? data::DocStream::Split::Train : data::DocStream::Split::Eval);
    const auto& sources = stream.sources();
    std::vector<data::Row> rows;
    int64_t tokens = 0;
    auto flush = [&] {
      if (rows.empty()) return;
      MicroBatch mb = make_micro_batch(rows, 0, rows.size(), ctx_.device);
      at::Tensor lp = doc_logps(*ref, mb, ctx_.ce_chunk).to(at::kCPU).to(at::kDouble);
      for (size_t u = 0; u < mb.units.size(); ++u) {
        PT_CHECK(mb.units[u].size() == 2, "dpo: a preference unit must hold a chosen and a rejected document");
        cache_[{split, mb.unit_keys[u].first, mb.unit_keys[u].second}] = {lp[mb.units[u][0]].item<double>(),
                                                                          lp[mb.units[u][1]].item<double>()};
      }
      rows.clear();
      tokens = 0;
    };
    for (uint32_t s = 0; s < sources.size(); ++s) {
      const auto& records = split == 0 ? sources[s].train : sources[s].eval;
      for (uint32_t r : records) {
        std::vector<data::Unit> unit;
        try {
          unit.push_back(stream.materialize(data::UnitRef{s, r, 0}));
        } catch (const std::exception&) {
          continue;  // bad or dropped records never reach training either
        }
        const int64_t n = static_cast<int64_t>(unit[0].ex.size());
        if (tokens + n > budget) flush();
        rows.push_back(data::pack_row(std::move(unit), static_cast<int>(n), 0, rows.size()));
        tokens += n;
      }
    }
    flush();
  }
  if (ctx_.world->is_main()) {
    json entries = json::array();
    for (const auto& [k, v] : cache_)
      entries.push_back({std::get<0>(k), std::get<1>(k), std::get<2>(k), v.first, v.second});
    fs::create_directories(run_dir_);
    const std::string tmp = file + ".tmp";
    ckpt::write_file_synced(tmp, json{{"fingerprint", fingerprint}, {"entries", entries}}.dump() + "\n");
    fs::rename(tmp, file);
  }
  log::info("dpo: {} reference log-prob pairs cached in {}; the reference model is released", cache_.size(), file);
}

at::Tensor Dpo::reference_doc_logps(const MicroBatch& mb, bool training) {
  if (mode_ != DpoReference::Cached) return algo::reference_doc_logps(ref_.get(), *ctx_.policy, mb, ctx_.ce_chunk);
  std::vector<float> lp(static_cast<size_t>(mb.num_docs), 0.0f);
  for (size_t u = 0; u < mb.units.size(); ++u) {
    const CacheKey key{training ? 0 : 1, mb.unit_keys[u].first, mb.unit_keys[u].second};
    auto it = cache_.find(key);
    PT_CHECK(it != cache_.end(), "dpo: no cached reference log-probs for record {} of source {} (was {} computed for "
             "other data?)", mb.unit_keys[u].second, mb.unit_keys[u].first, kCacheFile);
    lp[mb.units[u][0]] = static_cast<float>(it->second.first);
    lp[mb.units[u][1]] = static_cast<float>(it->second.second);
  }
  return at::tensor(lp).to(mb.labels.device());
}

Prepared Dpo::prepare(data::StepBatch& batch, bool training) {
  Prepared p = Algorithm::prepare(batch, training);
  // Global pair and chosen-token counts: the loss is a mean over the step's pairs, the NLL term a
  // mean over its chosen tokens, however the pairs are spread over micro-batches and ranks.
  const PairCounts n = count_pairs(batch);
  std::vector<double> totals{n.pairs, n.chosen_tokens};
  if (training && ctx_.world->size() > 1) totals = ctx_.world->allreduce_sum(totals);
  p.normalizer = totals[0];
  p.step_data = std::make_shared<PairTotals>(totals[0], totals[1]);
  return p;
}

LossOut Dpo::loss(const MicroBatch& mb, size_t, const Prepared& prep) {
  const auto& n = prep.data<PairTotals>();
  const double pairs = std::max(1.0, n.pairs), chosen_tokens = std::max(1.0, n.chosen_tokens);
  at::Tensor doc_tokens;
  at::Tensor lp = doc_logps(*ctx_.policy, mb, ctx_.ce_chunk, &doc_tokens);
  auto [c, r] = pair_docs(mb);
  PairLogps in{lp.index_select(0, c), lp.index_select(0, r), {}, {}, doc_tokens.index_select(0, c),
               doc_tokens.index_select(0, r)};
  if (needs_reference()) {
    at::Tensor ref = reference_doc_logps(mb, prep.training);
    in.ref_chosen = ref.index_select(0, c);
    in.ref_rejected = ref.index_select(0, r);
  }
  return pair_objective(in, params_, o_.nll_weight, pairs, chosen_tokens);
}

LossOut pair_objective(const PairLogps& in, const PreferenceLossParams& p, double nll_weight, double pairs,
                       double chosen_tokens) {
  LossOut out;
  auto pl = preference_loss(in, p);
  at::Tensor loss = pl.loss.sum() / pairs;
  if (nll_weight > 0) {
    at::Tensor nll = -in.chosen.sum();
    loss = loss + nll_weight * nll / chosen_tokens;
    out.metrics.push_back({"nll", nll.detach(), chosen_tokens});
  }
  out.loss = loss;
  out.metrics.insert(out.metrics.begin(), {"loss", loss.detach(), 1.0});
  out.metrics.push_back({"rewards/chosen", pl.chosen_reward.sum(), pairs});
  out.metrics.push_back({"rewards/rejected", pl.rejected_reward.sum(), pairs});
  out.metrics.push_back({"rewards/accuracy", pl.chosen_reward.gt(pl.rejected_reward).sum(), pairs});
  out.metrics.push_back({"rewards/margin", (pl.chosen_reward - pl.rejected_reward).sum(), pairs});
  out.metrics.push_back({"logps/chosen", in.chosen.detach().sum(), pairs});
  out.metrics.push_back({"logps/rejected", in.rejected.detach().sum(), pairs});
  return out;
}

std::unique_ptr<Algorithm> make_dpo(const recipe::Recipe& r) {
  return std::make_unique<Dpo>(r.algorithm.dpo, r.model.path, r.run_dir());
}

}  // namespace pt::algo
