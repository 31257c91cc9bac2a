#pragma once
// Shared helpers for data tests: temporary JSONL sources and the Qwen3 tokenizer.
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "../temp_dir.h"
#include "data/loader.h"
#include "tokenizer/hf_tokenizer.h"

namespace pt::testing {

inline const tok::HfTokenizer& qwen3() {
  static auto t = std::make_unique<tok::HfTokenizer>(
      tok::HfTokenizer::from_dir(std::string(PT_SOURCE_DIR) + "/tests/assets/tokenizers/qwen3"));
  return *t;
}

// n chat records whose assistant answers have varied lengths (deterministic in i).
inline std::vector<std::string> chat_lines(int n, int salt = 0) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    std::string answer;
    for (int k = 0; k < 1 + (i * 7 + salt) % 23; ++k) answer += "word" + std::to_string((i + k) % 10) + " ";
    nlohmann::json rec{{"messages",
                        {{{"role", "user"}, {"content", "question " + std::to_string(i) + " from " + std::to_string(salt)}},
                         {{"role", "assistant"}, {"content", answer}}}}};
    out.push_back(rec.dump());
  }
  return out;
}

inline uint64_t row_hash(const data::Row& r) {
  uint64_t h = 1469598103934665603ull;
  auto add = [&](const std::vector<int32_t>& v) {
    for (int32_t x : v) h = (h ^ static_cast<uint32_t>(x)) * 1099511628211ull;
  };
  add(r.input_ids);
  add(r.labels);
  add(r.position_ids);
  add(r.doc_lens);
  return h;
}

inline tok::MaskOptions default_masks() { return tok::MaskOptions{}; }

}  // namespace pt::testing
