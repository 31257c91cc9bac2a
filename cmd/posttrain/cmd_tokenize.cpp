#include <iostream>

#include "cmd/posttrain/commands.h"
#include "gguf/import.h"
#include "tokenizer/tokenize_cmd.h"

namespace pt::cmd {

void add_tokenize_command(CLI::App& app) {
  auto* sub = app.add_subcommand("tokenize", "Tokenize text or JSONL records with a tokenizer.json; JSON lines out");
  static tok::TokenizeRequest r;
  static bool no_special = false, ids_only = false;
  sub->add_option("--tokenizer", r.tokenizer, "tokenizer.json, a directory holding it, or a GGUF file")->required();
  auto* text = sub->add_option("--text", r.text, "text to tokenize");
  auto* jsonl = sub->add_option("--jsonl", r.jsonl, "JSONL file, one record per line")->check(CLI::ExistingFile);
  text->excludes(jsonl);
  sub->add_option("--field", r.field, "record field holding the text")->capture_default_str();
  sub->add_flag("--no-special", no_special, "do not add the post-processor's special tokens (BOS, ...)");
  sub->add_flag("--ids-only", ids_only, "print only ids");
  sub->callback([] {
    r.tokenizer = gguf::tokenizer_dir(r.tokenizer);
    r.add_special_tokens = !no_special;
    r.tokens = !ids_only;
    tok::tokenize_to_json(r, std::cout);
  });
}

}  // namespace pt::cmd
