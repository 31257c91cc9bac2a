#pragma once
// What a record becomes after tokenization, before packing.
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

namespace pt::data {

// The label of a position that carries no loss (the value transformers and TRL use, so tensors
// exchanged with Python references need no translation).
constexpr int32_t kIgnoreIndex = -100;

struct Document {
  std::vector<int32_t> ids;
  std::vector<uint8_t> trained;  // per token: 1 = this token is a target of the loss
  // Per token, optional (token_ids records): the loss weight of the token as a target; empty = 1.
  std::vector<float> weights;
  size_t size() const { return ids.size(); }
  size_t num_trained() const;
  // Positions [b, e) with everything recorded per position.
  Document slice(size_t b, size_t e) const;
};

// One packing unit: documents that must land in the same row, in order (a preference pair is
// chosen then rejected). `meta` carries what a reward needs (RL prompts: reference answer, ...).
struct Example {
  std::vector<Document> docs;
  nlohmann::json meta;
  size_t size() const;
};

}  // namespace pt::data
