#include "tokenizer/inspect.h"

#include <fstream>

#include "core/compressed.h"
#include "core/error.h"

namespace pt::tok {

void inspect_conversation(const InspectRequest& r, std::ostream& out) {
  auto tok = HfTokenizer::from_dir(r.tokenizer);
  tok.select_chat_template(r.chat_template);
  nlohmann::ordered_json record;
  std::string where;
  if (!r.jsonl.empty()) {
    std::ifstream in(r.jsonl);
    if (!in) fail("cannot open '{}'", r.jsonl);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n)
      if (n == r.line) break;
    where = fmt::format("{}:{}", r.jsonl, r.line);
    if (line.empty()) fail("{}: no such line (or it is empty)", where);
    try {
      record = nlohmann::ordered_json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      fail("{}: invalid JSON: {}", where, e.what());
    }
  } else {
    where = r.messages_json;
    try {
      record = nlohmann::ordered_json::parse(read_file(r.messages_json));
    } catch (const nlohmann::json::exception& e) {
      fail("{}: invalid JSON: {}", where, e.what());
    }
  }
  const nlohmann::ordered_json& messages = record.is_object() && record.contains(r.field) ? record[r.field] : record;
  if (!messages.is_array()) fail("{}: expected a list of messages (or an object with '{}')", where, r.field);
  MaskedTokens m;
  if (r.generation_prompt) {
    ChatOptions chat = r.mask.chat;
    chat.add_generation_prompt = true;
    m.ids = tok.tokenizer().encode(tok.render_chat(messages, chat).text, false).ids;
    m.trained.assign(m.ids.size(), 0);
    out << "(rendered with the generation prompt: the text generation continues from; nothing is trained)\n";
  } else {
    m = encode_chat(tok, messages, r.mask, where);
  }
  size_t trained = 0;
  bool in_span = false;
  for (size_t i = 0; i < m.ids.size(); ++i) {
    std::string piece = tok.tokenizer().decode({m.ids[i]}, false);
    bool t = m.trained[i];
    trained += t;
    if (r.color) {
      // trained: black on green; masked: dim. A thin separator shows token boundaries.
      out << (t ? "\x1b[30;42m" : "\x1b[2m") << piece << "\x1b[0m" << (t ? "\x1b[32m|\x1b[0m" : "\x1b[2m|\x1b[0m");
    } else {
      if (t && !in_span) out << "[[";
      if (!t && in_span) out << "]]";
      in_span = t;
      out << piece;
    }
  }
  if (!r.color && in_span) out << "]]";
  out << "\n\n" << m.ids.size() << " tokens, " << trained << " trained, " << (m.ids.size() - trained) << " masked\n";
}

}  // namespace pt::tok
