#pragma once
// Loss masks: token ids of a rendered conversation plus, per token, whether it is trained.
//
// Default: every assistant turn, including its end-of-turn token (so the model learns to stop) but
// not the whitespace the template prints after it. Templates with {% generation %} blocks define
// the trained spans themselves (as transformers' return_assistant_tokens_mask does). Other
// templates are segmented by rendering prefixes: message i spans from the end of
// render(messages[:i], add_generation_prompt=True) (for assistant turns; without the prompt for
// other roles) to the end of render(messages[:i+1]); both must be prefixes of the full rendering,
// or the template cannot be segmented and we say so rather than guess.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/hf_tokenizer.h"

namespace pt::tok {

struct MaskOptions {
  std::vector<std::string> train_roles{"assistant"};
  bool last_turn_only = false;
  ChatOptions chat;  // tools, template kwargs, template name (add_generation_prompt is ignored)
};

struct MaskedTokens {
  std::vector<int32_t> ids;
  std::vector<uint8_t> trained;
  std::string text;                                  // the rendered conversation
  std::vector<std::pair<size_t, size_t>> spans;      // trained byte spans of `text`
};

// `where` names the record in errors (e.g. "data/chat.jsonl:17").
MaskedTokens encode_chat(const HfTokenizer& tok, const nlohmann::ordered_json& messages, const MaskOptions& opts,
                         const std::string& where = "conversation");

// Prompt untrained, completion trained, followed by EOS (trained) when the tokenizer has one.
MaskedTokens encode_prompt_completion(const HfTokenizer& tok, const std::string& prompt, const std::string& completion,
                                      const std::string& where = "record");

}  // namespace pt::tok
