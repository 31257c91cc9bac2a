#pragma once
// One record (a JSONL line) -> an Example, per source format, through the tokenizer layer (chat
// template + loss masks). Every problem with the record is a BadRecord naming file:line and field.
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "data/example.h"
#include "data/options.h"
#include "tokenizer/hf_tokenizer.h"
#include "tokenizer/masks.h"

namespace pt::data {

// A prompt or answer given as a string becomes one message of `role`; a list of messages stays as is
// (how records' prompts are rendered, and how an environment's episode opens with one).
nlohmann::ordered_json as_messages(const nlohmann::ordered_json& v, const std::string& role);

// A record that cannot be used (malformed JSON, missing field, wrong type, template refusal).
class BadRecord : public Error {
 public:
  using Error::Error;
};

class RecordEncoder {
 public:
  // `tok` may be null only for the token_ids format. `key` names the source in errors
  // ("data.sources[0]"); `vocab_size` (0 = unknown) bounds token_ids records.
  RecordEncoder(const tok::HfTokenizer* tok, const SourceOptions& src, tok::MaskOptions masks, std::string key,
                int64_t vocab_size = 0);
  Example encode(std::string_view line, const std::string& where) const;

  // For generation-based evaluation: the prompt (chat: every turn but the final assistant one, ending
  // with the generation prompt; prompt/completion: the prompt as encode() tokenizes it) and the
  // reference answer. nullopt for other formats and for chats that do not end with an assistant turn.
  struct PromptAndAnswer {
    std::vector<int32_t> prompt;
    std::string answer;
  };
  std::optional<PromptAndAnswer> prompt_and_answer(std::string_view line, const std::string& where) const;
  Format format() const { return format_; }
  void check_pair(const Example& ex, const std::string& where) const;

  // The record's field for our name `ours` (after the recipe's mapping).
  const std::string& field(const std::string& ours) const;
  static const std::vector<std::string>& field_names(Format f);

 private:
  Example chat(const nlohmann::ordered_json& rec, const std::string& where) const;
  Example prompt_completion(const nlohmann::ordered_json& rec, const std::string& where,
                            const char* format = "prompt_completion") const;
  Example unpaired(const nlohmann::ordered_json& rec, const std::string& where) const;
  std::optional<PromptAndAnswer> answer_of(const nlohmann::ordered_json* prompt, const nlohmann::ordered_json& answer) const;
  Example preference(const nlohmann::ordered_json& rec, const std::string& where) const;
  Example prompts(const nlohmann::ordered_json& rec, const std::string& where) const;
  Example token_ids(const nlohmann::ordered_json& rec, const std::string& where) const;
  Example text(const nlohmann::ordered_json& rec, const std::string& where) const;
  Example classification(const nlohmann::ordered_json& rec, const std::string& where) const;
  Example token_classification(const nlohmann::ordered_json& rec, const std::string& where) const;
  std::vector<int32_t> token_id_list(const nlohmann::ordered_json& rec, const std::string& where, const char* format) const;

  const tok::HfTokenizer* tok_;
  Format format_;
  tok::MaskOptions masks_;
  std::map<std::string, std::string> fields_;
  std::string key_;
  int64_t vocab_size_;
};

}  // namespace pt::data
