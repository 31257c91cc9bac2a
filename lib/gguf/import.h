#pragma once
// A GGUF file wherever a model directory is accepted (model.path, tokenizer.path, a reference or
// teacher path, `generate --model`, `eval`, `verify-model`): the file is converted once into an HF
// model directory in the cache (config.json from the architecture metadata, every tensor
// dequantized to float32 safetensors under its HF name, llama.cpp's q/k row order undone, the
// tokenizer and chat template from the metadata) and that directory is what loads. A cached copy is
// keyed by the file's path, size and modification time, so an edited file converts again; ranks
// racing to convert the same file each write a private directory and the first rename wins. The cache
// is kept within POSTTRAIN_GGUF_CACHE_GB (least recently used copies removed; see cache.h).
// Why a directory and not an in-memory load: every consumer (sharded ZeRO-3 loading, tensor-parallel
// slicing, the tokenizer engine, provenance, LoRA adapters naming their base) then reads one format.
#include <string>

namespace pt::gguf {

// True when `path` is a regular file named *.gguf or starting with GGUF's magic number (a file
// named .gguf that is not one fails when converted, naming what is wrong).
bool is_gguf(const std::string& path);

// `path` itself when it is not a file; otherwise the HF directory converted from it.
std::string model_dir(const std::string& path);
// Like model_dir, and fails with the reason when the file's tokenizer could not be converted.
std::string tokenizer_dir(const std::string& path);

// Converts `gguf_path` into `out_dir` (created; written in place). Architectures: llama (and
// Mistral, which llama.cpp files as llama), qwen2, qwen3; anything else is refused by name.
void convert_to_hf(const std::string& gguf_path, const std::string& out_dir);

}  // namespace pt::gguf
