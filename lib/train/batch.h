#pragma once
// FLOPs of a training step (MFU).
#include <vector>

#include "model/hf_config.h"

namespace pt::train {

// 6·N_body·tokens + 6·N_head·trained + attention 6·L·d_attn·Σ len² (causal: half of the full
// QK^T and AV products, x3 for forward + backward); padding is not counted as useful work.
double step_flops(const model::HfConfig& cfg, int64_t tokens, int64_t trained, const std::vector<int64_t>& doc_lens);

}  // namespace pt::train
