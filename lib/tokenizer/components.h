#pragma once
// The pipeline stages of tokenizer.json: normalizers, pre-tokenizers, post-processors, decoders.
// Each is built from its JSON object; unknown types are errors naming the JSON path and the
// supported types.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/normalized.h"

namespace pt::tok {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(NormalizedString& s) const = 0;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Splits/transforms every piece; pieces keep their alignment to the original text.
  virtual void pre_tokenize(std::vector<NormalizedString>& pieces) const = 0;
};

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

// Post-processing of a single sequence: special tokens around it.
struct SpecialTokenIds {
  std::vector<int32_t> ids;
};
class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // Returns the ids to put before and after the sequence.
  virtual void wrap(std::vector<int32_t>& before, std::vector<int32_t>& after) const = 0;
};

// `where` names the JSON path for error messages, e.g. "tokenizer.json: normalizer.normalizers[1]".
std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& j, const std::string& where);
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& j, const std::string& where);
std::unique_ptr<Decoder> make_decoder(const nlohmann::json& j, const std::string& where);
// token_to_id resolves special token names for Roberta/Bert processors.
std::unique_ptr<PostProcessor> make_post_processor(const nlohmann::json& j, const std::string& where,
                                                   const std::map<std::string, int32_t>& vocab_lookup);

// Helpers shared with the tokenizer.
const nlohmann::json& field(const nlohmann::json& j, const char* key, const std::string& where);
std::string string_field(const nlohmann::json& j, const char* key, const std::string& where);

}  // namespace pt::tok
