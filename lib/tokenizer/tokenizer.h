#pragma once
// tokenizer.json — the single source of truth for tokenization — loaded and run in C++ with the
// semantics of Hugging Face `tokenizers`: added tokens, normalizer, pre-tokenizer, model,
// post-processor, decoder.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pt::tok {

struct AddedToken {
  std::string content;
  bool special = true;
  bool normalized = false;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
};

struct Encoding {
  std::vector<int32_t> ids;
  std::vector<std::pair<uint32_t, uint32_t>> offsets;  // byte [begin, end) into the ORIGINAL input text
  std::vector<uint8_t> special;                         // 1 for special added tokens / post-processor tokens
};

class Tokenizer {
 public:
  static Tokenizer from_json_file(const std::string& path);
  static Tokenizer from_json_string(const std::string& json, const std::string& origin = "<string>");
  // A SentencePiece model (tokenizer.model), run by libsentencepiece itself; add_special_tokens
  // prepends BOS like HF's slow Llama tokenizer.
  static Tokenizer from_sentencepiece_model(const std::string& path);
  // A tokenizer.json, a tokenizer.json.zst, or a directory holding either (or only tokenizer.model).
  static Tokenizer from_path(const std::string& path);
  static std::string resolve_path(const std::string& path);  // the file from_path would read
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  Encoding encode(std::string_view text, bool add_special_tokens = true) const;
  std::vector<Encoding> encode_batch(const std::vector<std::string>& texts, bool add_special_tokens = true,
                                     int num_threads = 0 /* 0 = hardware */) const;
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const;
  std::optional<int32_t> token_to_id(std::string_view token) const;
  std::optional<std::string> id_to_token(int32_t id) const;
  size_t vocab_size(bool with_added_tokens = true) const;
  bool is_special(int32_t id) const;
  // Vocabulary extension: returns how many were new (existing contents are kept as they are).
  int32_t add_tokens(const std::vector<AddedToken>& tokens);
  void save_json(const std::string& path) const;  // includes added tokens; loads back identically

  struct Impl;

 private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pt::tok
