#pragma once
// `posttrain tokenize`: text or JSONL in, ids (+ tokens and byte offsets) out as JSON lines.
#include <ostream>
#include <string>

namespace pt::tok {

struct TokenizeRequest {
  std::string tokenizer;  // tokenizer.json, or a directory holding one
  std::string text;       // used when jsonl is empty
  std::string jsonl;      // one record per line
  std::string field = "text";
  bool add_special_tokens = true;
  bool tokens = true;     // also print token strings and offsets
};

// Returns the number of records tokenized.
size_t tokenize_to_json(const TokenizeRequest& r, std::ostream& out);

}  // namespace pt::tok
