#include "train/batch.h"

namespace pt::train {

algo::MicroBatch make_micro_batch(const std::vector<data::Row>& rows, size_t begin, size_t end, at::Device device) {
  size_t n = 0, docs = 0;
  for (size_t r = begin; r < end; ++r) {
    n += rows[r].input_ids.size();
    docs += rows[r].doc_lens.size();
  }
  auto ids = at::empty({static_cast<int64_t>(n)}, at::kLong);
  auto pos = at::empty({static_cast<int64_t>(n)}, at::kLong);
  auto lab = at::empty({static_cast<int64_t>(n)}, at::kLong);
  auto cu = at::empty({static_cast<int64_t>(docs + 1)}, at::kInt);
  int64_t *pi = ids.data_ptr<int64_t>(), *pp = pos.data_ptr<int64_t>(), *pl = lab.data_ptr<int64_t>();
  int32_t* pc = cu.data_ptr<int32_t>();
  algo::MicroBatch mb;
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
    for (size_t j = 0; j < row.doc_lens.size(); ++j) {
      pc[d + 1] = pc[d] + row.doc_lens[j];
      ++d;
      max_len = std::max<int64_t>(max_len, row.doc_lens[j]);
      if (row.doc_source[j] >= 0) mb.doc_lens.push_back(row.doc_lens[j]);
    }
    mb.num_tokens += row.num_tokens;
    mb.num_trained += row.num_trained;
  }
  mb.input.input_ids = ids.to(device);
  mb.input.position_ids = pos.to(device);
  mb.input.cu_seqlens = cu.to(device);
  mb.input.max_seqlen = max_len;
  mb.labels = lab.to(device);
  return mb;
}

double step_flops(const model::HfConfig& c, int64_t tokens, int64_t trained, const std::vector<int64_t>& doc_lens) {
  const double body = static_cast<double>(c.num_parameters(false));
  const double head = static_cast<double>(c.vocab_size * c.hidden_size);
  const double d_attn = static_cast<double>(c.num_attention_heads * c.head_dim);
  double sq = 0;
  for (int64_t l : doc_lens) sq += static_cast<double>(l) * static_cast<double>(l);
  return 6.0 * body * tokens + 6.0 * head * trained + 6.0 * c.num_hidden_layers * d_attn * sq;
}

}  // namespace pt::train
