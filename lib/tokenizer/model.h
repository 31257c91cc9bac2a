#pragma once
// The tokenization model of tokenizer.json ("model"): BPE, Unigram or WordPiece.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pt::tok {

struct ModelToken {
  int32_t id;
  uint32_t begin, end;  // byte range inside the pre-token
};

class Model {
 public:
  virtual ~Model() = default;
  virtual void tokenize(const std::string& word, std::vector<ModelToken>& out) const = 0;
  virtual int32_t token_to_id(const std::string& t) const = 0;  // -1 when absent
  virtual const std::string* id_to_token(int32_t id) const = 0;
  virtual size_t vocab_size() const = 0;
};

std::unique_ptr<Model> make_model(const nlohmann::json& j, const std::string& where);

}  // namespace pt::tok
