#include "algo/algorithm.h"

#include <algorithm>

#include "core/error.h"
#include "data/example.h"
#include "recipe/recipe.h"

namespace pt::algo {

MicroBatch make_micro_batch(const std::vector<data::Row>& rows, size_t begin, size_t end, at::Device device) {
  size_t n = 0, docs = 0;
  for (size_t r = begin; r < end; ++r) {
    n += rows[r].input_ids.size();
    docs += rows[r].doc_lens.size();
  }
  auto ids = at::empty({static_cast<int64_t>(n)}, at::kLong);
  auto pos = at::empty({static_cast<int64_t>(n)}, at::kLong);
  auto lab = at::empty({static_cast<int64_t>(n)}, at::kLong);
  auto tdoc = at::empty({static_cast<int64_t>(n)}, at::kLong);
  auto cu = at::empty({static_cast<int64_t>(docs + 1)}, at::kInt);
  int64_t *pi = ids.data_ptr<int64_t>(), *pp = pos.data_ptr<int64_t>(), *pl = lab.data_ptr<int64_t>(),
          *pd = tdoc.data_ptr<int64_t>();
  int32_t* pc = cu.data_ptr<int32_t>();
  MicroBatch mb;
  size_t k = 0, d = 0;
  int64_t max_len = 0;
  pc[0] = 0;
  for (size_t r = begin; r < end; ++r) {
    const auto& row = rows[r];
    for (size_t i = 0; i < row.input_ids.size(); ++i, ++k) {
      pi[k] = row.input_ids[i];
      pp[k] = row.position_ids[i];
      pl[k] = row.labels[i];
    }
    int32_t unit_of_row = -1;
    for (size_t j = 0; j < row.doc_lens.size(); ++j) {
      for (int32_t t = 0; t < row.doc_lens[j]; ++t) pd[pc[d] + t] = static_cast<int64_t>(d);
      pc[d + 1] = pc[d] + row.doc_lens[j];
      max_len = std::max<int64_t>(max_len, row.doc_lens[j]);
      if (row.doc_source[j] >= 0) {
        mb.doc_lens.push_back(row.doc_lens[j]);
        if (row.doc_unit[j] != unit_of_row) {
          unit_of_row = row.doc_unit[j];
          mb.units.emplace_back();
          mb.unit_keys.emplace_back(static_cast<uint32_t>(row.doc_source[j]),
                                    j < row.doc_record.size() ? row.doc_record[j] : -1);
          const auto u = static_cast<size_t>(row.doc_unit[j]);
          mb.unit_meta.push_back(u < row.meta.size() ? row.meta[u] : nlohmann::json());
        }
        mb.units.back().push_back(static_cast<int64_t>(d));
      }
      ++d;
    }
    mb.num_tokens += row.num_tokens;
    mb.num_trained += row.num_trained;
  }
  mb.num_docs = static_cast<int64_t>(docs);
  std::vector<int64_t> labelled;
  labelled.reserve(static_cast<size_t>(mb.num_trained));
  for (size_t i = 0; i < n; ++i)
    if (pl[i] != data::kIgnoreIndex) labelled.push_back(static_cast<int64_t>(i));
  mb.label_index = at::tensor(labelled, at::TensorOptions().dtype(at::kLong)).to(device);
  bool weighted = false;
  for (size_t r = begin; r < end; ++r) weighted = weighted || !rows[r].label_weights.empty();
  if (weighted) {
    std::vector<float> w;
    w.reserve(labelled.size());
    for (size_t r = begin; r < end; ++r) {
      const auto& row = rows[r];
      for (size_t i = 0; i < row.labels.size(); ++i)
        if (row.labels[i] != data::kIgnoreIndex) w.push_back(row.label_weights.empty() ? 1.0f : row.label_weights[i]);
    }
    mb.label_weights = at::tensor(w, at::TensorOptions().dtype(at::kFloat)).to(device);
  }
  mb.input.input_ids = ids.to(device);
  mb.input.position_ids = pos.to(device);
  mb.input.cu_seqlens = cu.to(device);
  mb.input.max_seqlen = max_len;
  mb.labels = lab.to(device);
  mb.token_doc = tdoc.to(device);
  return mb;
}

std::pair<at::Tensor, at::Tensor> pair_docs(const MicroBatch& mb) {
  std::vector<int64_t> c, r;
  for (const auto& u : mb.units) {
    PT_CHECK(u.size() == 2, "a packing unit with {} documents reached a pairwise loss (expected a chosen/rejected pair)",
             u.size());
    c.push_back(u[0]);
    r.push_back(u[1]);
  }
  auto opts = at::TensorOptions().dtype(at::kLong);
  return {at::tensor(c, opts).to(mb.labels.device()), at::tensor(r, opts).to(mb.labels.device())};
}

PairCounts count_pairs(const data::StepBatch& batch) {
  PairCounts n;
  for (const auto& row : batch.rows) {
    int64_t off = 0;
    int32_t unit = -1;
    for (size_t d = 0; d < row.doc_lens.size(); ++d) {
      if (row.doc_unit[d] >= 0 && row.doc_unit[d] != unit) {
        ++n.pairs;
        unit = row.doc_unit[d];
        for (int64_t i = off; i < off + row.doc_lens[d]; ++i) n.chosen_tokens += row.labels[i] != data::kIgnoreIndex;
      }
      off += row.doc_lens[d];
    }
  }
  return n;
}

at::Tensor labelled_positions(const MicroBatch& mb) {
  if (mb.label_index.defined()) return mb.label_index;
  return mb.labels.ne(data::kIgnoreIndex).nonzero().squeeze(1);
}

Prepared Algorithm::prepare(data::StepBatch& batch, bool training) {
  Prepared p;
  p.training = training;
  const size_t rows = static_cast<size_t>(std::max(1, ctx_.rows_per_micro));
  for (size_t b = 0; b < batch.rows.size(); b += rows)
    p.micro.push_back(make_micro_batch(batch.rows, b, std::min(batch.rows.size(), b + rows), ctx_.device));
  p.normalizer = batch.global_weight;
  p.global_tokens = batch.global_tokens;
  p.global_trained = batch.global_trained;
  p.global_rows = batch.global_rows;
  return p;
}

data::Row completion_row(const std::vector<int32_t>& prompt, const std::vector<int32_t>& completion, uint64_t index,
                         const std::vector<uint8_t>& trained) {
  data::Unit unit;
  data::Document d;
  d.ids = prompt;
  d.ids.insert(d.ids.end(), completion.begin(), completion.end());
  d.trained.assign(prompt.size(), 0);
  if (trained.empty()) d.trained.resize(d.ids.size(), 1);
  else d.trained.insert(d.trained.end(), trained.begin(), trained.end());
  const int n = static_cast<int>(d.ids.size());
  unit.ex.docs.push_back(std::move(d));
  return data::pack_row({std::move(unit)}, n, 0, index);
}

namespace {
bool shares_prompt(const std::vector<CompletionSeq>& seqs, size_t i) {
  return i > 0 && seqs[i].prompt->size() >= 2 && *seqs[i].prompt == *seqs[i - 1].prompt;
}
const std::vector<uint8_t>& trained_of(const CompletionSeq& s) {
  static const std::vector<uint8_t> all;
  return s.trained ? *s.trained : all;
}
}  // namespace

std::vector<int64_t> completion_costs(const std::vector<CompletionSeq>& seqs, bool share) {
  std::vector<int64_t> costs;
  for (size_t i = 0; i < seqs.size(); ++i) {
    const auto prompt = share && shares_prompt(seqs, i) ? 1 : seqs[i].prompt->size();
    costs.push_back(static_cast<int64_t>(prompt + seqs[i].completion->size()));
  }
  return costs;
}

MicroBatch completion_micro_batch(const std::vector<CompletionSeq>& seqs, bool share, at::Device device) {
  std::vector<data::Row> rows;
  std::vector<int32_t> prefix_doc;  // per row (each row is one document)
  int32_t family = -1;              // the current family's prefix document
  for (size_t i = 0; i < seqs.size(); ++i) {
    const auto& prompt = *seqs[i].prompt;
    const bool joins = share && shares_prompt(seqs, i);
    if (!joins) family = -1;
    if (!joins && share && i + 1 < seqs.size() && shares_prompt(seqs, i + 1)) {
      // A family starts: its prompt, less the last token, once.
      family = static_cast<int32_t>(rows.size());
      rows.push_back(completion_row({prompt.begin(), prompt.end() - 1}, {}, rows.size()));
      prefix_doc.push_back(-1);
    }
    if (family < 0) {
      rows.push_back(completion_row(prompt, *seqs[i].completion, rows.size(), trained_of(seqs[i])));
      prefix_doc.push_back(-1);
      continue;
    }
    rows.push_back(completion_row({prompt.back()}, *seqs[i].completion, rows.size(), trained_of(seqs[i])));
    for (auto& p : rows.back().position_ids) p += static_cast<int32_t>(prompt.size() - 1);
    prefix_doc.push_back(family);
  }
  MicroBatch mb = make_micro_batch(rows, 0, rows.size(), device);
  mb.input.prefix_doc = std::move(prefix_doc);
  if (!mb.input.has_prefixes()) mb.input.prefix_doc.clear();  // no family: the plain layout
  return mb;
}

std::vector<std::vector<size_t>> group_by_budget(const std::vector<int64_t>& lengths, int64_t budget) {
  std::vector<std::vector<size_t>> groups;
  int64_t tokens = 0;
  for (size_t i = 0; i < lengths.size(); ++i) {
    if (groups.empty() || (!groups.back().empty() && tokens + lengths[i] > budget)) {
      groups.emplace_back();
      tokens = 0;
    }
    groups.back().push_back(i);
    tokens += lengths[i];
  }
  return groups;
}

std::vector<std::vector<size_t>> split_even(const std::vector<size_t>& items, int parts) {
  std::vector<std::vector<size_t>> out(static_cast<size_t>(std::max(1, parts)));
  for (size_t k = 0; k < items.size(); ++k) out[k * out.size() / items.size()].push_back(items[k]);
  return out;
}

int64_t micro_budget(const Context& ctx) {
  return std::max<int64_t>(1, ctx.rows_per_micro) * ctx.recipe->recipe.data.seq_len;
}

}  // namespace pt::algo
