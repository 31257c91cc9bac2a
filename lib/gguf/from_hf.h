#pragma once
// An HF model directory (config.json, safetensors, tokenizer.json + tokenizer_config.json) as one
// GGUF file llama.cpp and Ollama run: llama.cpp's architecture metadata, tensor names and layouts
// (Llama-family q/k rows permuted from HF's rotate-half RoPE to llama.cpp's interleaved pairs), the
// byte-level BPE tokenizer (vocabulary, merges, token types, special ids, chat template). Llama,
// Mistral, Qwen2 and Qwen3 decoders; anything else is refused by name.
#include <string>

#include "gguf/writer.h"

namespace pt::gguf {

// `tokenizer_dir`: where tokenizer.json is ("" = model_dir). 2-D weights are stored as `type`
// (Q8_0 falls back to F16 for a tensor whose rows are not a multiple of 32); norms and biases F32.
void export_hf_dir(const std::string& model_dir, const std::string& tokenizer_dir, const std::string& out_file,
                   TensorType type);

}  // namespace pt::gguf
