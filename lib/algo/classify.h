#pragma once
// Sequence classification / regression with the model's score head (model.head, or a
// *ForSequenceClassification checkpoint): cross-entropy over num_labels classes (mean squared error
// when num_labels is 1) at each record's last token; the loss is a mean over the step's records.
#include "algo/algorithm.h"

namespace pt::algo {

class Classify : public Algorithm {
 public:
  void setup(const Context& ctx) override;
  Prepared prepare(data::StepBatch& batch, bool training) override;
  LossOut loss(const MicroBatch& mb, const Prepared& prep) override;
};

std::unique_ptr<Algorithm> make_classify(const recipe::Recipe& r);

}  // namespace pt::algo
