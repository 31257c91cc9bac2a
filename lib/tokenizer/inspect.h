#pragma once
// `posttrain inspect`: a conversation rendered with its chat template, tokens visible, trained
// tokens highlighted and masked ones dimmed, so a reviewer can see exactly what the loss sees.
#include <ostream>
#include <string>

#include "tokenizer/masks.h"

namespace pt::tok {

struct InspectRequest {
  std::string tokenizer;       // tokenizer directory
  std::string messages_json;   // a file holding a JSON list of messages or {"messages": [...]}
  std::string jsonl;           // or a JSONL dataset ...
  int line = 1;                // ... and the 1-based line of the record
  std::string field = "messages";
  std::string chat_template;   // optional template name or .jinja path
  MaskOptions mask;
  bool color = true;
  // Render as generation sees it: the conversation followed by the template's generation prompt
  // (the assistant header the model continues from); nothing is trained there.
  bool generation_prompt = false;
};

void inspect_conversation(const InspectRequest& r, std::ostream& out);

}  // namespace pt::tok
