#pragma once
// Packing: documents -> fixed-size rows of seq_len tokens.
//
// Best-fit from a window: each row takes the longest waiting unit that still fits, then the next
// longest that fits the remaining space, ... (ties: the one that waited longest), refilling the
// window from the stream after every take. Units are whole documents (or a preference pair), so a
// row is a list of complete documents followed by padding. Labels are shifted here:
// labels[i] = ids[i+1] when token i+1 is trained and in the same document, else -100, so the loss
// never reads across a document boundary or a row boundary.
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/stream.h"

namespace pt::data {

struct Row {
  std::vector<int32_t> input_ids;     // [seq_len]
  std::vector<int32_t> labels;        // [seq_len], kIgnoreIndex where no loss
  std::vector<int32_t> position_ids;  // [seq_len], restart at 0 per document
  std::vector<int32_t> doc_lens;      // documents in order; trailing padding is one more entry
  std::vector<int32_t> doc_source;    // per entry of doc_lens: source index, -1 = padding
  std::vector<int32_t> doc_unit;      // per entry: unit number within the row (a pair shares one)
  std::vector<int64_t> doc_record;    // per entry: record index in its source, -1 = padding
  int32_t num_tokens = 0;             // non-padding tokens
  int32_t num_trained = 0;            // labels != kIgnoreIndex
  // Loss weight per position (of its label), only when a document of the row has weights; and the
  // row's total weight over labelled positions (= num_trained without weights).
  std::vector<float> label_weights;
  double weight_sum = 0;
  uint64_t index = 0;                 // global row number in the stream
  std::vector<nlohmann::json> meta;   // per unit, when the format carries metadata
};

// Units laid out as one row of `seq_len` tokens (documents in order, then padding as a document of
// its own), labels shifted within each document.
Row pack_row(std::vector<Unit>&& units, int seq_len, int32_t pad_id, uint64_t index);

class Packer {
 public:
  // packing = false: one unit per row, padded (the baseline packing is measured against).
  Packer(DocStream& stream, int seq_len, bool packing, int window, int32_t pad_id = 0);
  std::optional<Row> next();

  nlohmann::json state() const;  // stream state + the window (as unit references)
  void restore(const nlohmann::json& state);
  uint64_t rows_emitted() const { return rows_; }

 private:
  void refill();
  Row make_row(std::vector<Unit>&& units);

  DocStream& stream_;
  int seq_len_;
  bool packing_;
  size_t window_;
  int32_t pad_id_;
  bool stream_done_ = false;
  uint64_t rows_ = 0, order_ = 0;
  // key: (length, ~arrival) so that within a length the earliest arrival sorts last.
  std::map<std::pair<int32_t, uint64_t>, Unit> waiting_;
};

}  // namespace pt::data
