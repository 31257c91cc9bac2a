#pragma once
// Recipe section `tokenizer`.
#include <optional>
#include <string>
#include <vector>

#include "recipe/fields.h"

namespace pt::tok {

struct TokenizerOptions {
  std::string path;                       // "" = model.path
  std::string chat_template;              // "" = the tokenizer's default; a name or a .jinja file
  std::vector<std::string> add_special_tokens;
  std::vector<std::string> add_tokens;
  std::string add_tokens_file;
  bool train_new_tokens_only = false;
  bool last_turn_only = false;
  std::vector<std::string> train_roles{"assistant"};

  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("path", path, Spec("tokenizer directory (tokenizer.json + tokenizer_config.json) or a GGUF file (its byte-level BPE vocabulary); empty = model.path"));
    v.field("chat_template", chat_template,
            Spec("chat template: empty = tokenizer default, a named template (e.g. tool_use), or a .jinja path"));
    v.field("add_special_tokens", add_special_tokens,
            Spec("extra special tokens added to the vocabulary (kept in saved tokenizer files); beyond the model's "
                 "vocabulary the embedding and LM head grow, new rows at the mean of the existing ones"));
    v.field("add_tokens", add_tokens,
            Spec("extra regular tokens (e.g. semantic ids), matched in text like HF's add_tokens; grow the model "
                 "like add_special_tokens"));
    v.field("add_tokens_file", add_tokens_file, Spec("a file of regular tokens to add, one per line"));
    v.field("train_new_tokens_only", train_new_tokens_only,
            Spec("train only the embedding / LM-head rows of the added tokens; the rest of the model stays as it is"));
    v.field("train_roles", train_roles,
            Spec("roles whose turns are trained (loss mask)").one_of({"system", "user", "assistant", "tool"}));
    v.field("last_turn_only", last_turn_only, Spec("train only the final turn of each conversation"));
  }
};

}  // namespace pt::tok
