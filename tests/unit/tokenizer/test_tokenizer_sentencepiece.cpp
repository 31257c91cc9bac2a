// A model that ships only tokenizer.model loads through libsentencepiece.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include "core/compressed.h"
#include "tokenizer/hf_tokenizer.h"

TEST_CASE("tokenizer.model directories load through libsentencepiece", "[tokenizer][sentencepiece]") {
  namespace fs = std::filesystem;
  auto dir = fs::temp_directory_path() / ("pt_sp_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string corpus = pt::read_file(std::string(PT_SOURCE_DIR) + "/tests/assets/tokenizers/english-sentences.txt.zst");
  {
    std::ofstream out(dir / "train.txt");
    out << corpus.substr(0, 300000);
  }
  auto st = sentencepiece::SentencePieceTrainer::Train("--input=" + (dir / "train.txt").string() + " --model_prefix=" +
                                                      (dir / "tokenizer").string() +
                                                      " --vocab_size=400 --model_type=unigram --minloglevel=2");
  REQUIRE(st.ok());
  fs::remove(dir / "train.txt");
  auto tok = pt::tok::HfTokenizer::from_dir(dir.string());
  sentencepiece::SentencePieceProcessor sp;
  REQUIRE(sp.Load((dir / "tokenizer.model").string()).ok());
  std::istringstream lines(corpus.substr(300000, 40000));
  int n = 0;
  for (std::string line; std::getline(lines, line) && n < 200; ++n) {
    auto e = tok.tokenizer().encode(line, false);
    std::vector<int> ref;
    sp.Encode(line, &ref);
    REQUIRE(std::vector<int>(e.ids.begin(), e.ids.end()) == ref);
    REQUIRE(tok.tokenizer().decode(e.ids) == sp.DecodeIds(ref));
    for (auto [b, en] : e.offsets) REQUIRE((b <= en && en <= line.size()));
  }
  auto with_bos = tok.tokenizer().encode("hello", true);
  REQUIRE(with_bos.ids.front() == sp.bos_id());
  REQUIRE(tok.tokenizer().is_special(sp.bos_id()));
  REQUIRE_THROWS_WITH(tok.add_special_tokens({"<x>"}), Catch::Contains("SentencePiece models are fixed"));
}
