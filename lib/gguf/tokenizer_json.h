#pragma once
// The tokenizer a GGUF file describes (llama.cpp's tokenizer.ggml.* metadata) as the tokenizer.json
// + tokenizer_config.json pair our tokenizer engine reads, built the way transformers builds it
// from the same file (so ids agree with `AutoTokenizer.from_pretrained(dir, gguf_file=...)`):
// byte-level BPE ("gpt2") with the vocabulary respelled into the byte alphabet where the file
// spells a token in plain UTF-8, control tokens as special added tokens, user-defined ones as
// plain added tokens, the split regex llama.cpp names in tokenizer.ggml.pre (GPT-2's otherwise),
// BOS/EOS from add_bos_token/add_eos_token, the chat template; SentencePiece BPE ("llama") as
// transformers' LlamaTokenizer: pieces as spelled with byte fallback, Metaspace, merges from the file
// or recovered from the scores (spm_merges.h). Unigram ("t5"), the SentencePiece respellings of Gemma
// and Phi-3, and other vocabularies are refused by name.
#include <nlohmann/json.hpp>

#include "gguf/reader.h"

namespace pt::gguf {

// Fails naming the file and tokenizer.ggml.model when the vocabulary is not one we build.
nlohmann::ordered_json tokenizer_json(const Reader& r);
nlohmann::ordered_json tokenizer_config(const Reader& r);

}  // namespace pt::gguf
