#pragma once
// BPE as in HF tokenizers: byte-level (GPT-2 style) and SentencePiece-style (byte_fallback,
// fuse_unk). Merges are applied lowest rank first, leftmost first among equal ranks.
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

namespace pt::tok {

struct ModelToken {
  int32_t id;
  uint32_t begin, end;  // byte range inside the pre-token
};

class Bpe {
 public:
  Bpe(const nlohmann::json& model, const std::string& where);
  void tokenize(const std::string& word, std::vector<ModelToken>& out) const;
  int32_t token_to_id(const std::string& t) const;  // -1 when absent
  const std::string* id_to_token(int32_t id) const;
  size_t vocab_size() const { return vocab_.size(); }
  nlohmann::json to_json() const;  // for save_json round trips

 private:
  void merge_word(const std::string& word, std::vector<ModelToken>& out) const;
  std::unordered_map<std::string, int32_t> vocab_;
  std::vector<const std::string*> id_to_token_;
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges_;  // (a,b) -> (rank, merged id)
  std::vector<std::pair<std::string, std::string>> merge_list_;
  int32_t unk_id_ = -1;
  std::string unk_token_, prefix_, suffix_;
  bool byte_fallback_ = false, fuse_unk_ = false, ignore_merges_ = false;
  int32_t byte_ids_[256];
  nlohmann::json raw_;
  // Word cache as in HF (most pre-tokens repeat); bounded so long inputs cannot grow it forever.
  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<ModelToken>> cache_;
};

}  // namespace pt::tok
