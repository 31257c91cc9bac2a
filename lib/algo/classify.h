#pragma once
// Classification with the model's score head (model.head, or a *For{Sequence,Token}Classification
// checkpoint). Per sequence: cross-entropy over num_labels classes (mean squared error when
// num_labels is 1) at each record's last token, a mean over the step's records. Per token
// (token_classification records): cross-entropy at every labelled position, a mean over the step's
// labelled positions. A projection head (model.head.type projection) reads the same records, its
// labels being ids of its output space.
#include "algo/algorithm.h"

namespace pt::algo {

class Classify : public Algorithm {
 public:
  void setup(const Context& ctx) override;
  Prepared prepare(data::StepBatch& batch, bool training) override;
  LossOut loss(const MicroBatch& mb, size_t index, const Prepared& prep) override;

 private:
  LossOut token_loss(const MicroBatch& mb, const Prepared& prep);
  bool token_ = false;       // per-token labels (token-classification or projection head)
  bool projection_ = false;  // the projection head (chunked CE over its id space)
};

std::unique_ptr<Algorithm> make_classify(const recipe::Recipe& r);

}  // namespace pt::algo
