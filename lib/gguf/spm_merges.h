#pragma once
// BPE merges recovered from a SentencePiece vocabulary and its scores, for GGUF files of
// tokenizer.ggml.model "llama" that list no merges. The same list transformers derives
// (tokenization_utils_base.generate_merges), so the tokenizer agrees with its GGUF loader id for id:
// every split of every token into two tokens of the vocabulary is a merge ranked by the whole token's
// score (highest first; ties by the left part's then the right part's length, longest first; then in
// vocabulary order, and within one token by the parts' ids).
#include <string>
#include <utility>
#include <vector>

namespace pt::gguf {

std::vector<std::pair<std::string, std::string>> spm_merges(const std::vector<std::string>& tokens,
                                                            const std::vector<float>& scores);

}  // namespace pt::gguf
