// Unigram and WordPiece parity with HF tokenizers on small tokenizers trained by the fixture script
// (3,000 corpus lines + the hard suite each).
#include <catch2/catch.hpp>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "core/compressed.h"
#include "tokenizer/tokenizer.h"

TEST_CASE("Unigram and WordPiece models match HF tokenizers", "[tokenizer][parity]") {
  const std::string dir = std::string(PT_SOURCE_DIR) + "/tests/assets/tokenizers/small/";
  for (const char* name : {"unigram", "wordpiece"}) {
    auto tok = pt::tok::Tokenizer::from_json_file(dir + name + ".json");
    auto ref = nlohmann::json::parse(pt::read_file(dir + name + "_ref.json"));
    size_t id_mismatch = 0, dec_mismatch = 0;
    for (const auto& r : ref) {
      auto e = tok.encode(r["text"].get<std::string>(), true);
      if (e.ids != r["ids"].get<std::vector<int32_t>>()) {
        if (id_mismatch++ < 3) UNSCOPED_INFO(name << ": " << r["text"].get<std::string>());
        continue;
      }
      if (tok.decode(e.ids, false) != r["decode"].get<std::string>()) {
        if (dec_mismatch++ < 3) UNSCOPED_INFO(name << " decode: " << r["text"].get<std::string>());
      }
    }
    std::printf("tokenizer parity %-9s %zu texts, %zu id mismatches, %zu decode mismatches\n", name, ref.size(),
                id_mismatch, dec_mismatch);
    CHECK(id_mismatch == 0);
    CHECK(dec_mismatch == 0);
  }
}
