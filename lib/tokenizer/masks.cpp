#include "tokenizer/masks.h"

#include <algorithm>

#include "core/error.h"
#include "core/text.h"

namespace pt::tok {

namespace {

std::vector<uint8_t> mark(const Encoding& enc, const std::vector<std::pair<size_t, size_t>>& spans) {
  std::vector<uint8_t> trained(enc.ids.size(), 0);
  for (size_t t = 0; t < enc.ids.size(); ++t) {
    auto [b, e] = enc.offsets[t];
    for (const auto& [sb, se] : spans)
      if (b < se && e > sb) trained[t] = 1;  // any overlap: a token straddling the boundary is trained
  }
  return trained;
}

// The smallest k such that after[b+k:] (without trailing blanks) is what `full` holds at b, or npos.
size_t dropped_lead(const std::string& full, size_t b, const std::string& after) {
  size_t end = after.size();
  while (end > b && is_blank(after[end - 1])) --end;
  for (size_t k = 1; b + k < end; ++k) {
    const size_t n = end - b - k;
    if (full.compare(b, n, after, b + k, n) == 0) return k + (after.size() - end);  // = after.size() - e
  }
  return std::string::npos;
}

// A recovered turn must still hold the message's text (so a bare terminator never passes as a turn).
bool keeps_content(const std::string& turn, const nlohmann::ordered_json& msg) {
  if (!msg.contains("content") || !msg["content"].is_string()) return true;
  const std::string c = trim(msg["content"].get_ref<const std::string&>());
  return c.empty() || turn.find(c) != std::string::npos;
}

// Templates that print the assistant header after the last message whatever add_generation_prompt
// says (Llama 3 style) end a last turn with "<|eot_id|><|start_header_id|>assistant<|end_header_id|>".
// When what follows the turn's first special token after its content is the very header that
// preceded the turn (the tail of `before`), that is the next turn's header, not this turn's end.
size_t strip_appended_header(const HfTokenizer& tok, const std::string& full, size_t b, size_t e,
                             const std::string& before, const nlohmann::ordered_json& msg) {
  if (!msg.contains("content") || !msg["content"].is_string()) return e;
  const std::string c = trim(msg["content"].get_ref<const std::string&>());
  if (c.empty()) return e;
  // The content's first occurrence in the turn: searching backwards from the end would find a short
  // reply ("d") inside the appended header's own text (<|end_header_id|>).
  size_t at = full.find(c, b);
  if (at == std::string::npos || at + c.size() > e) return e;
  const size_t cend = at + c.size();
  Encoding tail = tok.tokenizer().encode(full.substr(cend, e - cend), /*add_special_tokens=*/false);
  for (size_t t = 0; t < tail.ids.size(); ++t) {
    if (!tail.special[t]) continue;
    const size_t end_of_turn = cend + tail.offsets[t].second;
    // What follows the terminator, and the header before the turn (blanks around either ignored).
    const std::string rest = trim(std::string_view(full).substr(end_of_turn, e - end_of_turn));
    if (rest.empty()) return e;
    const std::string head = trim(before);
    if (head.size() >= rest.size() && head.compare(head.size() - rest.size(), rest.size(), rest) == 0) return end_of_turn;
    return e;
  }
  return e;
}

}  // namespace

MaskedTokens encode_chat(const HfTokenizer& tok, const nlohmann::ordered_json& messages, const MaskOptions& opts,
                         const std::string& where) {
  if (!messages.is_array() || messages.empty()) fail("{}: 'messages' must be a non-empty list", where);
  ChatOptions chat = opts.chat;
  chat.add_generation_prompt = false;
  auto full = tok.render_chat(messages, chat);
  MaskedTokens out;
  out.text = full.text;
  auto trains = [&](const std::string& role) {
    return std::find(opts.train_roles.begin(), opts.train_roles.end(), role) != opts.train_roles.end();
  };
  std::vector<size_t> trained_msgs;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (!messages[i].is_object() || !messages[i].contains("role") || !messages[i]["role"].is_string())
      fail("{}: messages[{}] needs a string 'role'", where, i);
    if (trains(messages[i]["role"].get<std::string>())) trained_msgs.push_back(i);
  }
  if (opts.last_turn_only && !trained_msgs.empty()) trained_msgs = {trained_msgs.back()};

  if (!full.generation_spans.empty()) {
    // The template marks assistant content itself; honour it (assistant role only, like transformers).
    out.spans = full.generation_spans;
    if (opts.last_turn_only) out.spans = {out.spans.back()};
  } else {
    for (size_t i : trained_msgs) {
      nlohmann::ordered_json head = nlohmann::ordered_json::array(), upto = nlohmann::ordered_json::array();
      for (size_t k = 0; k < i; ++k) head.push_back(messages[k]);
      for (size_t k = 0; k <= i; ++k) upto.push_back(messages[k]);
      bool assistant = messages[i]["role"] == "assistant";
      ChatOptions pre = chat;
      pre.add_generation_prompt = assistant;
      std::string before = head.empty() && !assistant ? std::string() : tok.render_chat(head, pre).text;
      std::string after = tok.render_chat(upto, chat).text;
      if (full.text.compare(0, before.size(), before) != 0)
        fail("{}: the chat template cannot be segmented at message {} (rendering the messages before it is not a "
             "prefix of the full rendering); use a template with {{% generation %}} markers",
             where, i);
      size_t b = before.size(), e;
      if (after.size() >= b && full.text.compare(0, after.size(), after) == 0) {
        e = after.size();
      } else if (size_t k = dropped_lead(full.text, b, after);
                 k != std::string::npos && keeps_content(full.text.substr(b, after.size() - k - b), messages[i])) {
        // Templates that drop a leading part of a turn once later turns exist (Qwen3 drops the empty
        // think block of earlier assistant turns, tool-call turns included): the turn in the full
        // rendering starts where it should and is the rest of its last-message rendering.
        e = after.size() - k;
      } else {
        // Otherwise find the turn's content followed by the terminator the template printed after
        // it when it was the last message.
        const std::string content = messages[i].contains("content") && messages[i]["content"].is_string()
                                        ? trim(messages[i]["content"].get_ref<const std::string&>())
                                        : std::string();
        size_t in_after = content.empty() ? std::string::npos : after.find(content, b);
        if (in_after == std::string::npos || in_after < b)
          fail("{}: the chat template cannot be segmented at message {} (its rendering changes once later messages "
               "follow, and its content cannot be located); use a template with {{% generation %}} markers",
               where, i);
        std::string term = after.substr(in_after + content.size());
        while (!term.empty() && is_blank(term.back())) term.pop_back();
        size_t at = full.text.find(content + term, b);
        if (at == std::string::npos) {
          // Templates that always end with the next header (Llama 3 style: the assistant header is
          // printed after the last message whether or not a generation prompt is asked for): after
          // the content, the full rendering follows the terminator only up to where the next turn's
          // header differs. The turn ends with the terminator's first special token (<|eot_id|>).
          at = full.text.find(content, b);
          size_t j = 0;
          while (at != std::string::npos && j < term.size() && at + content.size() + j < full.text.size() &&
                 full.text[at + content.size() + j] == term[j])
            ++j;
          size_t cut = std::string::npos;
          if (at != std::string::npos && j > 0) {
            Encoding te = tok.tokenizer().encode(term.substr(0, j), /*add_special_tokens=*/false);
            for (size_t t = 0; t < te.ids.size() && cut == std::string::npos; ++t)
              if (te.special[t]) cut = te.offsets[t].second;
          }
          if (cut == std::string::npos)
            fail("{}: the chat template cannot be segmented at message {} (content not found where the turn starts); "
                 "use a template with {{% generation %}} markers",
                 where, i);
          term.resize(cut);
        }
        e = at + content.size() + term.size();
      }
      while (e > b && is_blank(full.text[e - 1])) --e;  // the newline after the end-of-turn token is not trained
      if (assistant) e = strip_appended_header(tok, full.text, b, e, before, messages[i]);
      if (e > b) out.spans.emplace_back(b, e);
    }
  }
  Encoding enc = tok.tokenizer().encode(full.text, /*add_special_tokens=*/false);
  out.ids = enc.ids;
  out.trained = mark(enc, out.spans);
  if (std::find(out.trained.begin(), out.trained.end(), 1) == out.trained.end())
    fail("{}: no trained tokens (roles trained: {}; the conversation has none, or they are empty)", where,
         fmt::join(opts.train_roles, ", "));
  return out;
}

MaskedTokens encode_prompt_completion(const HfTokenizer& tok, const std::string& prompt, const std::string& completion,
                                      const std::string& where) {
  MaskedTokens out;
  auto p = tok.tokenizer().encode(prompt, true);
  auto c = tok.tokenizer().encode(completion, false);
  out.text = prompt + completion;
  out.ids = p.ids;
  out.trained.assign(p.ids.size(), 0);
  out.ids.insert(out.ids.end(), c.ids.begin(), c.ids.end());
  out.trained.insert(out.trained.end(), c.ids.size(), 1);
  if (auto eos = tok.eos_id()) {
    out.ids.push_back(*eos);
    out.trained.push_back(1);
  }
  out.spans.emplace_back(prompt.size(), out.text.size());
  if (c.ids.empty() && !tok.eos_id()) fail("{}: empty completion and no EOS token: nothing to train", where);
  return out;
}

}  // namespace pt::tok
