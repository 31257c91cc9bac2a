// Exact parity with the Python `tokenizers` library on the real Qwen3, Llama 3, Gemma 3 and Mistral
// tokenizer.json files: every line of the 50k-sentence English corpus and a hard suite.
// Reference data: scripts/make_tokenizer_fixtures.py.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstring>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/compressed.h"
#include "tokenizer/tokenizer.h"

using pt::tok::Tokenizer;

namespace {
const std::string kDir = std::string(PT_SOURCE_DIR) + "/tests/assets/tokenizers/";

uint64_t fnv(const void* data, size_t n) {
  uint64_t h = 1469598103934665603ull;
  auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

Tokenizer load(const std::string& name) {
  return Tokenizer::from_json_string(pt::read_file(kDir + name + "/tokenizer.json.zst"), name + "/tokenizer.json");
}

std::vector<std::string> corpus() {
  static std::vector<std::string> lines = [] {
    std::string text = pt::read_file(kDir + "english-sentences.txt.zst");
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }();
  return lines;
}
}  // namespace

TEST_CASE("tokenizer parity on the whole English corpus", "[tokenizer][parity]") {
  auto lines = corpus();
  REQUIRE(lines.size() == 50000);
  for (const char* name : {"qwen3", "llama3", "gemma3", "mistral"}) {
    auto tok = load(name);
    std::string ref = pt::read_file(kDir + name + "/corpus_ref.bin.zst");
    REQUIRE(ref.size() == lines.size() * 20);
    auto encs = tok.encode_batch(lines, true);
    size_t id_mismatch = 0, decode_mismatch = 0, tokens = 0;
    for (size_t i = 0; i < lines.size(); ++i) {
      uint32_t n;
      uint64_t h_ids, h_dec;
      std::memcpy(&n, ref.data() + i * 20, 4);
      std::memcpy(&h_ids, ref.data() + i * 20 + 4, 8);
      std::memcpy(&h_dec, ref.data() + i * 20 + 12, 8);
      const auto& ids = encs[i].ids;
      tokens += ids.size();
      if (ids.size() != n || fnv(ids.data(), ids.size() * 4) != h_ids) {
        if (id_mismatch++ < 3) UNSCOPED_INFO(name << " line " << i + 1 << " differs: " << lines[i]);
        continue;
      }
      std::string dec = tok.decode(ids, false);
      if (fnv(dec.data(), dec.size()) != h_dec) ++decode_mismatch;
    }
    std::printf("tokenizer parity %-8s %zu lines, %zu tokens, %zu id mismatches, %zu decode mismatches\n", name,
                lines.size(), tokens, id_mismatch, decode_mismatch);
    CHECK(id_mismatch == 0);
    CHECK(decode_mismatch == 0);
  }
}

TEST_CASE("tokenizer parity on the hard suite (scripts, emoji, marks, code, whitespace, fake specials)",
          "[tokenizer][parity]") {
  for (const char* name : {"qwen3", "llama3", "gemma3", "mistral"}) {
    auto tok = load(name);
    auto ref = nlohmann::json::parse(pt::read_file(kDir + name + "/hard_ref.json"));
    size_t checked = 0;
    for (const auto& item : ref) {
      std::string text = item["text"];
      for (bool special : {true, false}) {
        const auto& r = item[special ? "special" : "plain"];
        auto e = tok.encode(text, special);
        INFO(name << " special=" << special << " text=" << text);
        CHECK(e.ids == r["ids"].get<std::vector<int32_t>>());
        CHECK(tok.decode(e.ids, false) == r["decode"].get<std::string>());
        CHECK(tok.decode(e.ids, true) == r["decode_skip"].get<std::string>());
        // Offsets are byte ranges into the input, in order, within bounds.
        uint32_t prev = 0;
        for (size_t k = 0; k < e.ids.size(); ++k) {
          CHECK(e.offsets[k].first <= e.offsets[k].second);
          CHECK(e.offsets[k].second <= text.size());
          if (!e.special[k]) {
            CHECK(e.offsets[k].first >= prev);
            prev = e.offsets[k].first;
          }
        }
        ++checked;
      }
    }
    std::printf("tokenizer hard suite %-8s %zu cases\n", name, checked);
  }
}
