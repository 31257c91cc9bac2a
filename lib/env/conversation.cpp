#include "env/conversation.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/error.h"

namespace pt::env {

namespace {

size_t first_difference(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return i;
  return n;
}

// The template's tokens of `messages` (with the tools when there are any).
std::vector<int32_t> render_tokens(const ConversationSpec& spec, const Messages& messages, const Messages& tools,
                                   bool generation_prompt) {
  tok::ChatOptions chat = spec.chat;
  chat.add_generation_prompt = generation_prompt;
  if (!tools.is_null()) chat.tools = tools;
  return spec.tok->tokenizer().encode(spec.tok->render_chat(messages, chat).text, false).ids;
}

// The first end-of-turn token of `ids` at or after `from` (ids.size() when there is none).
size_t end_of_turn_from(const ConversationSpec& spec, const std::vector<int32_t>& ids, size_t from) {
  while (from < ids.size() && std::find(spec.end_of_turn.begin(), spec.end_of_turn.end(), ids[from]) == spec.end_of_turn.end())
    ++from;
  return from;
}

std::string token_at(const tok::HfTokenizer& t, const std::vector<int32_t>& ids, size_t i) {
  if (i >= ids.size()) return "(end)";
  return fmt::format("{} {:?}", ids[i], t.tokenizer().decode({ids[i]}, false));
}

}  // namespace

Conversation::Conversation(const ConversationSpec& spec, Messages messages, Messages tools)
    : spec_(spec), opening_(messages), messages_(std::move(messages)), tools_(std::move(tools)) {
  PT_CHECK(spec_.tok && spec_.tok->has_chat_template(spec_.chat.template_name),
           "multi-turn episodes render their turns with a chat template; the tokenizer has none ({})", spec_.label);
  rendered_ = render(messages_, true);
  prompt_ = rendered_;
}

std::vector<int32_t> Conversation::render(const Messages& messages, bool generation_prompt) const {
  return render_tokens(spec_, messages, tools_, generation_prompt);
}

std::vector<int32_t> Conversation::append(const std::string& assistant_text, bool ended_on_end_of_turn,
                                          const Messages& answer, const std::string& where) {
  const Messages turn{{"role", "assistant"}, {"content", assistant_text}};
  messages_.push_back(turn);
  for (const auto& m : answer) messages_.push_back(m);
  if (spec_.keep_sampled) {
    // The new messages rendered after the opening and this turn only: earlier turns, which the
    // template would rewrite, play no part.
    Messages alone = opening_;
    alone.push_back(turn);
    for (const auto& m : answer) alone.push_back(m);
    const std::vector<int32_t> next = render(alone, true);
    if (first_difference(prompt_, next) < prompt_.size())
      fail("{}: the chat template {} renders the episode's opening differently once a turn follows it (token {}); "
           "even on_template_rewrite: keep_sampled cannot place the answers", where, spec_.label,
           first_difference(prompt_, next));
    return after_turn(next, prompt_.size(), ended_on_end_of_turn, where);
  }
  std::vector<int32_t> next = render(messages_, true);
  const size_t diverge = first_difference(rendered_, next);
  if (diverge < rendered_.size())
    fail("{}: the chat template {} is not append-only: rendering turn {} changes token {} of the conversation "
         "already held ({} -> {}); multi-turn episodes need a template that only appends (or "
         "environment.on_template_rewrite: keep_sampled)",
         where, spec_.label, messages_.size(), diverge, token_at(*spec_.tok, rendered_, diverge),
         token_at(*spec_.tok, next, diverge));
  std::vector<int32_t> delta = after_turn(next, rendered_.size(), ended_on_end_of_turn, where);
  rendered_ = std::move(next);
  return delta;
}

std::vector<int32_t> Conversation::after_turn(const std::vector<int32_t>& next, size_t from, bool ended_on_end_of_turn,
                                              const std::string& where) const {
  // The template's rendering of the assistant's turn ends at its first end-of-turn token.
  const size_t close = end_of_turn_from(spec_, next, from);
  if (close == next.size())
    fail("{}: the chat template {} closes an assistant turn without an end-of-turn token (the stop ids {}); the "
         "environment's answer cannot be placed after the sampled tokens", where, spec_.label,
         fmt::join(spec_.end_of_turn, ", "));
  // Sampled up to its end-of-turn token: what follows it. Cut short (max_new_tokens): the template closes it.
  const size_t at = ended_on_end_of_turn ? close + 1 : close;
  return {next.begin() + static_cast<std::ptrdiff_t>(at), next.end()};
}

void check_append_only(const ConversationSpec& spec, const Messages& tools) {
  const bool with_tools = !tools.is_null();
  Messages opening = Messages::array();
  opening.push_back({{"role", "user"}, {"content", "What is 12 times 7, plus 5?"}});
  // Turns and answers of the probe: a tool call and its result when the environment has tools.
  const std::string call = R"(<tool_call>
{"name": "calculator", "arguments": {"expression": "12*7+5"}}
</tool_call>)";
  std::vector<std::pair<std::string, Messages>> turns;
  turns.push_back({with_tools ? call : "Is it 89?", Messages::array()});
  turns.back().second.push_back(with_tools ? Messages{{"role", "tool"}, {"name", "calculator"}, {"content", "89"}}
                                           : Messages{{"role", "user"}, {"content", "Yes. And 3 plus 4?"}});
  turns.push_back({"It is 89.", Messages::array()});
  turns.back().second.push_back({{"role", "user"}, {"content", "Thanks. And 3 plus 4?"}});
  turns.push_back({"7", Messages::array()});

  Conversation conv(spec, opening, tools);
  std::vector<int32_t> seq = conv.prompt();
  for (size_t k = 0; k < turns.size(); ++k) {
    // The turn as if sampled: the template's own tokens of it, through its end-of-turn token (after
    // the opening alone under keep_sampled, which renders every turn that way).
    Messages only = spec.keep_sampled ? opening : conv.messages();
    only.push_back({{"role", "assistant"}, {"content", turns[k].first}});
    const auto closed = render_tokens(spec, only, tools, false);
    const size_t base = spec.keep_sampled ? conv.prompt().size() : seq.size();
    if (!spec.keep_sampled && first_difference(seq, closed) < seq.size()) break;  // reported below
    size_t close = end_of_turn_from(spec, closed, base);
    if (close < closed.size()) ++close;
    seq.insert(seq.end(), closed.begin() + static_cast<std::ptrdiff_t>(base), closed.begin() + static_cast<std::ptrdiff_t>(close));
    if (k + 1 == turns.size()) break;
    const auto delta = conv.append(turns[k].first, true, turns[k].second, "start-up check of multi-turn continuity (a probe conversation)");
    seq.insert(seq.end(), delta.begin(), delta.end());
  }
  if (spec.keep_sampled) return;  // the deltas placed; the whole history is not re-rendered by design
  Messages all = conv.messages();
  all.push_back({{"role", "assistant"}, {"content", turns.back().first}});
  const auto full = render_tokens(spec, all, tools, false);
  const size_t d = first_difference(seq, full);
  if (d < seq.size())
    fail("the chat template {} is not append-only: a {} conversation built turn by turn differs from the whole "
         "conversation rendered at the end at token {} ({} built, {} rendered) — it rewrites earlier turns, so the "
         "tokens a multi-turn episode trains on would not be what the template shows; use an append-only template "
         "(tokenizer.chat_template), or keep the sampled tokens with environment.on_template_rewrite: keep_sampled",
         spec.label, with_tools ? "tool-calling" : "multi-turn", d,
         token_at(*spec.tok, seq, d), token_at(*spec.tok, full, d));
}

}  // namespace pt::env
