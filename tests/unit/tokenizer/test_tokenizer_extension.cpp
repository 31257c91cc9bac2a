// Vocabulary extension from a recipe: new special tokens get new ids, are matched as single tokens,
// and survive save_pretrained -> reload (ours, and HF tokenizers through the reference venv).
#include <catch2/catch.hpp>

#include <algorithm>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "core/compressed.h"
#include "tokenizer/hf_tokenizer.h"

using namespace pt;

TEST_CASE("added special tokens are kept in saved tokenizer files", "[tokenizer][extension]") {
  auto t = tok::HfTokenizer::from_dir(std::string(PT_SOURCE_DIR) + "/tests/assets/tokenizers/mistral");
  size_t before = t.tokenizer().vocab_size(true);
  REQUIRE(t.add_special_tokens({"<item_1>", "<item_2>", "<s>"}) == 2);  // <s> already exists
  REQUIRE(t.tokenizer().vocab_size(true) == before + 2);
  auto e = t.tokenizer().encode("buy <item_1> then<item_2>", false);
  auto id1 = *t.tokenizer().token_to_id("<item_1>"), id2 = *t.tokenizer().token_to_id("<item_2>");
  REQUIRE(id1 == static_cast<int32_t>(before));
  REQUIRE(std::count(e.ids.begin(), e.ids.end(), id1) == 1);
  REQUIRE(std::count(e.ids.begin(), e.ids.end(), id2) == 1);
  REQUIRE(t.tokenizer().decode(e.ids, true).find("<item_1>") == std::string::npos);

  auto dir = std::filesystem::temp_directory_path() / ("pt_tok_ext_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  t.save_pretrained(dir.string());
  auto again = tok::HfTokenizer::from_dir(dir.string());
  REQUIRE(again.tokenizer().encode("buy <item_1> then<item_2>", false).ids == e.ids);
  REQUIRE(*again.eos_token() == *t.eos_token());

  // HF tokenizers reads the same file and agrees.
  std::string py = PT_PYTHON;
  REQUIRE_FALSE(py.empty());
  std::string cmd = py + " -c \"from tokenizers import Tokenizer; t=Tokenizer.from_file('" + (dir / "tokenizer.json").string() +
                    "'); print(' '.join(map(str, t.encode('buy <item_1> then<item_2>', add_special_tokens=False).ids)))\" > " +
                    (dir / "hf.txt").string();
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::string expect;
  for (size_t i = 0; i < e.ids.size(); ++i) expect += (i ? " " : "") + std::to_string(e.ids[i]);
  std::string got = read_file((dir / "hf.txt").string());
  REQUIRE(got == expect + "\n");
}
