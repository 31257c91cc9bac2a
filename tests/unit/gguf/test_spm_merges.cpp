// Merges recovered from a SentencePiece vocabulary's scores: the list transformers' generate_merges
// gives (checked in Python on these tokens): by score, then the longer left part first, a multi-byte
// piece split at character boundaries, a token listed twice counted once (its last id).
#include <catch2/catch.hpp>

#include "gguf/spm_merges.h"

using namespace pt;

TEST_CASE("SentencePiece merges from scores follow transformers' generate_merges", "[gguf][spm]") {
  const std::vector<std::string> tokens = {"a", "b", "c", "ab", "bc", "abc", "\xe2\x96\x81", "\xe2\x96\x81" "a", "a"};
  const std::vector<float> scores = {0, 0, 0, -1, -2, -3, 0, -0.5f, 0};
  using P = std::pair<std::string, std::string>;
  const std::vector<P> want = {{"\xe2\x96\x81", "a"}, {"a", "b"}, {"b", "c"}, {"ab", "c"}, {"a", "bc"}};
  CHECK(gguf::spm_merges(tokens, scores) == want);
}
