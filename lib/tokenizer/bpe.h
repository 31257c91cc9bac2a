#pragma once
// BPE as in HF tokenizers: byte-level (GPT-2 style) and SentencePiece-style (byte_fallback,
// fuse_unk). Merges are applied lowest rank first, leftmost first among equal ranks.
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/model.h"

namespace pt::tok {

class Bpe : public Model {
 public:
  Bpe(const nlohmann::json& model, const std::string& where);
  void tokenize(const std::string& word, std::vector<ModelToken>& out) const override;
  int32_t token_to_id(const std::string& t) const override;
  const std::string* id_to_token(int32_t id) const override;
  size_t vocab_size() const override { return vocab_.size(); }

 private:
  void merge_word(const std::string& word, std::vector<ModelToken>& out) const;
  std::unordered_map<std::string, int32_t> vocab_;
  std::vector<const std::string*> id_to_token_;
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges_;  // (a,b) -> (rank, merged id)
  int32_t unk_id_ = -1;
  std::string unk_token_, prefix_, suffix_;
  bool byte_fallback_ = false, fuse_unk_ = false, ignore_merges_ = false;
  int32_t byte_ids_[256];
  // Word cache as in HF (most pre-tokens repeat); bounded so long inputs cannot grow it forever.
  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<ModelToken>> cache_;
};

}  // namespace pt::tok
