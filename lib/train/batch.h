#pragma once
// Packed rows from the data loader -> micro-batches on the device.
#include <vector>

#include "algo/algorithm.h"
#include "data/packer.h"

namespace pt::train {

// rows[begin, end) flattened: cu_seqlens from the rows' document lengths (padding is its own
// document), so attention stays inside documents across the whole micro-batch.
algo::MicroBatch make_micro_batch(const std::vector<data::Row>& rows, size_t begin, size_t end, at::Device device);

// 6·N_body·tokens + 6·N_head·trained + attention 6·L·d_attn·Σ len² (causal: half of the full
// QK^T and AV products, x3 for forward + backward); padding is not counted as useful work.
double step_flops(const model::HfConfig& cfg, int64_t tokens, int64_t trained, const std::vector<int64_t>& doc_lens);

}  // namespace pt::train
