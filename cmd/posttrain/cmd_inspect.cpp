#include <unistd.h>

#include <iostream>

#include "cmd/posttrain/commands.h"
#include "tokenizer/inspect.h"

namespace pt::cmd {

void add_inspect_command(CLI::App& app) {
  auto* sub = app.add_subcommand("inspect", "Show a conversation as the loss sees it: trained tokens highlighted");
  static tok::InspectRequest r;
  static bool no_color = false;
  sub->add_option("--tokenizer", r.tokenizer, "tokenizer directory (tokenizer.json + tokenizer_config.json)")->required();
  auto* m = sub->add_option("--messages-json", r.messages_json, "JSON file: a list of messages")->check(CLI::ExistingFile);
  auto* j = sub->add_option("--jsonl", r.jsonl, "JSONL dataset")->check(CLI::ExistingFile);
  m->excludes(j);
  sub->add_option("--line", r.line, "1-based record line in --jsonl")->capture_default_str();
  sub->add_option("--field", r.field, "record field holding the messages")->capture_default_str();
  sub->add_option("--chat-template", r.chat_template, "template name or .jinja file");
  sub->add_option("--train-roles", r.mask.train_roles, "roles whose turns are trained");
  sub->add_flag("--last-turn-only", r.mask.last_turn_only, "train only the last trained-role turn");
  sub->add_flag("--no-color", no_color, "plain output: [[ ]] around trained spans");
  sub->add_flag("--generation-prompt", r.generation_prompt,
                "render with the template's generation prompt, as generation sees the conversation");
  sub->callback([] {
    r.color = !no_color && isatty(STDOUT_FILENO);
    tok::inspect_conversation(r, std::cout);
  });
}

}  // namespace pt::cmd
