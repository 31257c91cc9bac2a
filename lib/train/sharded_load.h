#pragma once
// fsdp ZeRO-3 loading (full fine-tuning): the loader creates the parameters without memory
// (LoadContext::defer_param) and DataParallel fills each rank's share of them from a ParamSource.
// The source reads decoder layers from a resumed checkpoint's model shards (kept per tensor-parallel
// slice) or from the HF files, and everything else from the HF files; under tensor parallelism a
// rank's range is mapped into its slice of the stored whole tensor, so neither the whole tensor nor
// the slice is ever read on a rank, only the rows its range covers.
#include <memory>
#include <string>

#include "checkpoint/pieces.h"
#include "model/causal_lm.h"
#include "model/safetensors.h"
#include "parallel/data_parallel.h"

namespace pt::train {

// The model shards of ZeRO-3 checkpoint `checkpoint_dir` for this rank's tensor-parallel slice;
// fails naming the checkpoint when it was saved with another parallel.tensor_parallel.
std::shared_ptr<ckpt::PieceSet> open_model_shards(const std::string& checkpoint_dir, int tp_rank, int tp_size);

// `shards` may be null (a fresh start from HF files). Rows past a file's vocabulary (the padding of
// model.vocab_pad_multiple) read as zeros.
parallel::ParamSource sharded_source(std::shared_ptr<model::Checkpoint> files, std::shared_ptr<ckpt::PieceSet> shards,
                                     const model::CausalLM& model);

}  // namespace pt::train
