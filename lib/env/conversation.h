#pragma once
// An episode's conversation as one token sequence that only grows. The policy's tokens are kept as
// sampled (never decoded and re-encoded); an environment's answer is appended as the token delta of
// the chat template rendered with it (and the next generation prompt) against the rendering the
// sequence already holds — through our own Jinja and tokenizer engines, as the data pipeline renders
// prompts. The rendering of the assistant's own turn is skipped up to its end-of-turn token: what
// follows that token (the template's whitespace, the answer, the next generation prompt) is the delta.
//
// A template that rewrites earlier turns (e.g. drops earlier reasoning) breaks this: every delta
// checks that the new rendering starts with the old one, and check_append_only() finds it at start-up
// on a probe conversation, naming the template and the first diverging position.
#include <string>
#include <vector>

#include "env/environment.h"
#include "tokenizer/hf_tokenizer.h"

namespace pt::env {

struct ConversationSpec {
  const tok::HfTokenizer* tok = nullptr;
  tok::ChatOptions chat;              // template name, kwargs; tools come with the opening
  std::vector<int32_t> end_of_turn;   // tokens that close an assistant turn (the sampling stop ids)
  std::string label;                  // the template, for messages: "<tokenizer dir> (template <name>)"
  // A template that rewrites earlier turns (environment.on_template_rewrite: keep_sampled): every
  // answer is the template's rendering of the new messages after the opening and the turn alone, and
  // the held sequence (what the policy saw) is not compared with a re-rendering of the whole history.
  bool keep_sampled = false;
};

class Conversation {
 public:
  // The opening: rendered with the generation prompt; prompt() is its tokens.
  Conversation(const ConversationSpec& spec, Messages messages, Messages tools);
  const std::vector<int32_t>& prompt() const { return prompt_; }
  const Messages& messages() const { return messages_; }
  // The policy's turn (its text; whether it ended on an end-of-turn token) and the environment's
  // answer: the tokens to append after the sampled ones. `where` names the episode in errors.
  std::vector<int32_t> append(const std::string& assistant_text, bool ended_on_end_of_turn, const Messages& answer,
                              const std::string& where);

 private:
  std::vector<int32_t> render(const Messages& messages, bool generation_prompt) const;
  // The tokens of `next` after the assistant turn that starts at `from` (its end-of-turn token, or
  // where a turn cut short is closed).
  std::vector<int32_t> after_turn(const std::vector<int32_t>& next, size_t from, bool ended_on_end_of_turn,
                                  const std::string& where) const;
  const ConversationSpec& spec_;
  Messages opening_, messages_, tools_;
  std::vector<int32_t> prompt_;
  std::vector<int32_t> rendered_;  // the template's tokens of the conversation up to the last generation prompt
};

// Plays a probe conversation (with a tool call and a `tool` answer when `tools` is not null, else
// user answers) turn by turn, as if the policy sampled the template's own tokens, and compares the
// sequence with the whole conversation rendered at the end: refuses a template that is not
// append-only, naming it and the first diverging token. Under spec.keep_sampled only the deltas are
// checked (they must place the answer after an end-of-turn token).
void check_append_only(const ConversationSpec& spec, const Messages& tools);

}  // namespace pt::env
