#pragma once
// Knowledge-distillation divergences between a student and a teacher next-token distribution.
#include <ATen/ATen.h>

#include "algo/vocab_parallel.h"

namespace pt::algo {

struct DistillParams {
  // Generalized JSD (GKD, arXiv 2306.13649): beta = 0 is forward KL(teacher || student), beta = 1
  // reverse KL(student || teacher), in between the β-skewed Jensen-Shannon divergence.
  double beta = 0;
  double temperature = 1;  // both distributions are softened by it before the divergence
  int64_t top_k = 0;       // > 0: both distributions restricted to the teacher's top-k ids, renormalized
};

// Per-position divergence [m] from logits [m, V] (any float dtype; computed in the logits' dtype).
// Same definition as TRL's GKDTrainer.generalized_jsd_loss before its reduction.
at::Tensor generalized_jsd(const at::Tensor& student_logits, const at::Tensor& teacher_logits, const DistillParams& p);

// The same from normalized log-probabilities [m, V] (no temperature, no top-k): a sum over the
// vocabulary of element-wise terms, so a vocabulary split over ranks can sum its parts.
at::Tensor generalized_jsd_logprobs(const at::Tensor& student_logprobs, const at::Tensor& teacher_logprobs, double beta);

// Summed divergence over n positions, chunk by chunk through both LM heads, so neither model's
// [n, V] logits exist at once. Gradients flow to `student_hidden` and `student_weight` (formed per
// chunk during the forward pass); the teacher side is constant.
//   student_hidden [n, Hs], student_weight [Vs_padded, Hs], teacher_hidden [n, Ht], teacher_weight
//   [Vt_padded, Ht]; `vocab`: the shared vocabulary (columns >= vocab are ignored on both sides).
at::Tensor chunked_distillation(const at::Tensor& student_hidden, const at::Tensor& student_weight,
                                const at::Tensor& teacher_hidden, const at::Tensor& teacher_weight, int64_t vocab,
                                int64_t chunk, const DistillParams& p);

// As chunked_distillation over a vocabulary split across a tensor-parallel group: each weight holds
// this rank's rows (student and teacher split alike, `shard` says where). Each rank forms the logits
// of its own rows only; the log-softmax normalizers (max, sum of exponentials) are combined over the
// group, and top-k selects from every rank's candidates, so no rank holds a whole-vocabulary block.
// The divergence and the hidden-state gradient are the same on every rank; each rank gets the
// gradient of its own weight rows.
at::Tensor vocab_parallel_distillation(const at::Tensor& student_hidden, const at::Tensor& student_weight,
                                       const at::Tensor& teacher_hidden, const at::Tensor& teacher_weight,
                                       int64_t vocab, int64_t chunk, const DistillParams& p, const VocabShard& shard);

}  // namespace pt::algo
