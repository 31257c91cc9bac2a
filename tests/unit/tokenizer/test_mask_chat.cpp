// Assistant-token loss masks: equal to transformers' return_assistant_tokens_mask, on a template with
// {% generation %} markers, and on the real templates (qwen3, llama3, gemma3, chatml) whose trained spans
// are written by hand as markers in a copy that renders the same text (scripts/make_chat_fixtures.py,
// tests/assets/chat/templates/marked/); clear errors instead of degenerate masks.
#include <catch2/catch.hpp>

#include <map>

#include "core/compressed.h"
#include "core/error.h"
#include "tokenizer/masks.h"

using namespace pt;

namespace {
const std::string kAssets = std::string(PT_SOURCE_DIR) + "/tests/assets/";
tok::HfTokenizer& tokenizer(const std::string& name) {
  static std::map<std::string, std::unique_ptr<tok::HfTokenizer>> cache;
  auto& t = cache[name];
  if (!t) t = std::make_unique<tok::HfTokenizer>(tok::HfTokenizer::from_dir(kAssets + "tokenizers/" + name));
  return *t;
}
}  // namespace

TEST_CASE("chat loss masks match the references", "[tokenizer][mask]") {
  auto render = nlohmann::ordered_json::parse(read_file(kAssets + "chat/render_ref.json"));
  auto refs = nlohmann::json::parse(read_file(kAssets + "chat/mask_ref.json"));
  REQUIRE(refs.size() == 20);
  for (const auto& r : refs) {
    auto& t = tokenizer(r["tokenizer"]);
    std::string tpl = r["template"];
    t.select_chat_template(tpl == r["tokenizer"] ? std::string("default") : kAssets + "chat/templates/" + tpl + ".jinja");
    INFO(tpl << " / " << r["conversation"] << " (" << r["method"] << ")");
    auto m = tok::encode_chat(t, render["conversations"][r["conversation"].get<std::string>()], tok::MaskOptions{});
    CHECK(m.ids == r["ids"].get<std::vector<int32_t>>());
    CHECK(m.trained == r["mask"].get<std::vector<uint8_t>>());
  }
}

TEST_CASE("assistant masks include the end-of-turn token and nothing of the prompt", "[tokenizer][mask]") {
  auto& t = tokenizer("qwen3");
  t.select_chat_template("default");
  auto conv = nlohmann::ordered_json::parse(
      R"([{"role":"user","content":"2+3?"},{"role":"assistant","content":"5"},{"role":"user","content":"4+4?"},{"role":"assistant","content":"8"}])");
  auto m = tok::encode_chat(t, conv, {});
  std::vector<int32_t> trained;
  for (size_t i = 0; i < m.ids.size(); ++i)
    if (m.trained[i]) trained.push_back(m.ids[i]);
  std::string decoded = t.tokenizer().decode(trained, false);
  // Qwen3 renders the final assistant turn with an empty think block; it is part of the turn.
  CHECK(decoded == "5<|im_end|><think>\n\n</think>\n\n8<|im_end|>");
  tok::MaskOptions last;
  last.last_turn_only = true;
  auto m2 = tok::encode_chat(t, conv, last);
  trained.clear();
  for (size_t i = 0; i < m2.ids.size(); ++i)
    if (m2.trained[i]) trained.push_back(m2.ids[i]);
  CHECK(t.tokenizer().decode(trained, false) == "<think>\n\n</think>\n\n8<|im_end|>");
}

TEST_CASE("degenerate conversations are errors, never all-zero or all-one masks", "[tokenizer][mask]") {
  auto& t = tokenizer("qwen3");
  t.select_chat_template("default");
  auto only_user = nlohmann::ordered_json::parse(R"([{"role":"user","content":"hi"}])");
  REQUIRE_THROWS_WITH(tok::encode_chat(t, only_user, {}, "chat.jsonl:3"),
                      Catch::Contains("chat.jsonl:3: no trained tokens"));
  REQUIRE_THROWS_WITH(tok::encode_chat(t, nlohmann::ordered_json::array(), {}, "chat.jsonl:4"),
                      Catch::Contains("non-empty list"));
  // A template whose earlier turns change once later ones exist, and whose content is not printed.
  t.select_chat_template(kAssets + "chat/templates/generation_marked.jinja");
  auto unsegmentable = std::string(PT_SOURCE_DIR) + "/tests/assets/chat/templates/unsegmentable.jinja.txt";
  t.select_chat_template(unsegmentable);
  auto conv = nlohmann::ordered_json::parse(R"([{"role":"user","content":"a"},{"role":"assistant","content":"b"}])");
  REQUIRE_THROWS_WITH(tok::encode_chat(t, conv, {}, "chat.jsonl:5"), Catch::Contains("cannot be segmented at message 1"));
  t.select_chat_template("default");
}

TEST_CASE("prompt/completion masks train the completion and EOS", "[tokenizer][mask]") {
  auto& t = tokenizer("llama3");
  auto m = tok::encode_prompt_completion(t, "Q: 2+2?\nA:", " 4");
  REQUIRE(m.ids.size() == m.trained.size());
  REQUIRE(m.trained.front() == 0);
  REQUIRE(m.trained.back() == 1);
  REQUIRE(m.ids.back() == *t.tokenizer().token_to_id("<|end_of_text|>"));
  size_t n = 0;
  for (auto x : m.trained) n += x;
  REQUIRE(n == t.tokenizer().encode(" 4", false).ids.size() + 1);  // the completion and EOS
}

TEST_CASE("a Llama 3 template that always appends the assistant header segments multi-turn chats", "[tokenizer][mask]") {
  // The Llama 3 fixture's template prints <|start_header_id|>assistant<|end_header_id|> after the last
  // message whatever add_generation_prompt says: each assistant turn must train its content and
  // <|eot_id|>, never the next header, with a system message and several turns.
  auto& t = tokenizer("llama3");
  auto msgs = nlohmann::ordered_json::parse(R"([{"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."},
    {"role": "user", "content": "Bye"}, {"role": "assistant", "content": "Goodbye."}])");
  auto m = tok::encode_chat(t, msgs, tok::MaskOptions{});
  std::vector<std::string> spans;
  std::vector<int32_t> cur;
  for (size_t i = 0; i <= m.ids.size(); ++i) {
    if (i < m.ids.size() && m.trained[i]) {
      cur.push_back(m.ids[i]);
    } else if (!cur.empty()) {
      spans.push_back(t.tokenizer().decode(cur, false));
      cur.clear();
    }
  }
  CHECK(spans == std::vector<std::string>{"Hello.<|eot_id|>", "Goodbye.<|eot_id|>"});
  // Two turns, no system message: the same (the trailing header is not trained either).
  auto two = tok::encode_chat(t, nlohmann::ordered_json::parse(R"([{"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello."}])"), tok::MaskOptions{});
  size_t trained = 0;
  for (auto v : two.trained) trained += v;
  CHECK(trained == t.tokenizer().encode("Hello.<|eot_id|>", false).ids.size());
  // A last reply that also occurs inside the appended header's text ("d" in <|end_header_id|>, "assistant"
  // in its role name) ends at its own <|eot_id|> too.
  for (const char* reply : {"d", "assistant", "end"}) {
    auto conv = nlohmann::ordered_json::parse(R"([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
      {"role": "user", "content": "c"}])");
    conv.push_back({{"role", "assistant"}, {"content", reply}});
    auto mm = tok::encode_chat(t, conv, tok::MaskOptions{});
    std::vector<int32_t> last;
    for (size_t i = 0; i < mm.ids.size(); ++i)
      if (mm.trained[i]) last.push_back(mm.ids[i]);
    INFO("reply " << reply);
    CHECK(t.tokenizer().decode(last, false) == std::string("b<|eot_id|>") + reply + "<|eot_id|>");
  }
}
