#include "algo/doc_logps.h"

#include "algo/logprobs.h"
#include "algo/reference.h"
#include "algo/vocab_parallel.h"

namespace pt::algo {

at::Tensor doc_logps(model::CausalLM& m, const MicroBatch& mb, int64_t ce_chunk, at::Tensor* doc_tokens) {
  at::Tensor idx = labelled_positions(mb);
  at::Tensor seg = mb.token_doc.index_select(0, idx);
  at::Tensor hidden = m.hidden_states(mb.input).index_select(0, idx);
  at::Tensor lp = chunked_logprobs(hidden, m.lm_head_weight(), mb.labels.index_select(0, idx), m.vocab_size(), ce_chunk,
                                   vocab_shard_of(m));
  if (doc_tokens) *doc_tokens = segment_sum(at::ones_like(lp), seg, mb.num_docs);
  return segment_sum(lp, seg, mb.num_docs);
}

at::Tensor reference_doc_logps(model::CausalLM* frozen, model::CausalLM& policy, const MicroBatch& mb, int64_t ce_chunk) {
  at::NoGradGuard ng;
  if (frozen) return doc_logps(*frozen, mb, ce_chunk);
  AdaptersOff off(policy);
  return doc_logps(policy, mb, ce_chunk);
}

}  // namespace pt::algo
