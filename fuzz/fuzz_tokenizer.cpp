// libFuzzer: arbitrary bytes as (a) a tokenizer.json document and (b) text for a real tokenizer.
// Malformed files must be pt::Error, arbitrary (even invalid UTF-8) text must encode and decode.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/compressed.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"

static const pt::tok::Tokenizer& real() {
  static pt::tok::Tokenizer t = pt::tok::Tokenizer::from_json_string(
      pt::read_file(std::string(PT_SOURCE_DIR) + "/tests/assets/tokenizers/qwen3/tokenizer.json.zst"), "qwen3");
  return t;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string s(reinterpret_cast<const char*>(data), size);
  if (size > 0 && data[0] == '{') {
    try {
      auto t = pt::tok::Tokenizer::from_json_string(s, "fuzz");
      auto e = t.encode("fuzz input", true);
      t.decode(e.ids, false);
    } catch (const pt::Error&) {
    } catch (const std::exception&) {
    }
    return 0;
  }
  auto e = real().encode(s, true);
  real().decode(e.ids, false);
  return 0;
}
