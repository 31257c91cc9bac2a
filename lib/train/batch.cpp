#include "train/batch.h"

namespace pt::train {

double step_flops(const model::HfConfig& c, int64_t tokens, int64_t trained, const std::vector<int64_t>& doc_lens) {
  const double body = static_cast<double>(c.num_parameters(false));
  const double head = static_cast<double>(c.vocab_size * c.hidden_size);
  const double d_attn = static_cast<double>(c.num_attention_heads * c.head_dim);
  double sq = 0;
  for (int64_t l : doc_lens) sq += static_cast<double>(l) * static_cast<double>(l);
  return 6.0 * body * tokens + 6.0 * head * trained + 6.0 * c.num_hidden_layers * d_attn * sq;
}

}  // namespace pt::train
