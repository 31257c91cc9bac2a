#pragma once
// `posttrain export CHECKPOINT OUT`: a complete Hugging Face model from a checkpoint directory. A
// checkpoint of fsdp ZeRO-3 (full fine-tuning) keeps the decoder layers as every rank's shards
// (model_shards/) beside HF files of the rest; this reads both, in one process, and writes one HF
// model (+ tokenizer). Other checkpoints' model/ already is an HF model and is copied as written.
#include <string>

namespace pt::train {

void export_checkpoint(const std::string& checkpoint_dir, const std::string& out_dir);

}  // namespace pt::train
