// Token continuity of multi-turn episodes: built turn by turn (the policy's tokens kept, each
// environment answer appended as the template's token delta), a conversation equals the whole
// conversation rendered and tokenized at the end, token for token, on every tokenizer and template
// of the test assets that only appends; templates that rewrite earlier turns are refused, named,
// with the first diverging token.
#include <catch2/catch.hpp>

#include <cstdio>

#include "core/error.h"
#include "env/conversation.h"
#include "env/tools.h"

using namespace pt;

namespace {

std::string asset(const std::string& rel) { return std::string(PT_SOURCE_DIR) + "/tests/assets/" + rel; }

struct Case {
  std::string tokenizer, chat_template;  // template "" = the tokenizer's own
};

env::Messages calculator_tools() {
  return env::Messages::parse(R"([{"type": "function", "function": {"name": "calculator", "description": "arithmetic",
    "parameters": {"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]}}}])");
}

// "" when the probe passes, else the refusal's message.
std::string probe(const tok::HfTokenizer& t, const std::string& label, const env::Messages& tools) {
  env::ConversationSpec spec;
  spec.tok = &t;
  spec.label = label;
  if (auto e = t.eos_id()) spec.end_of_turn.push_back(*e);
  for (const char* eot : {"<|eot_id|>", "<end_of_turn>", "<|im_end|>", "<|end|>"})
    if (auto id = t.tokenizer().token_to_id(eot)) spec.end_of_turn.push_back(*id);
  try {
    env::check_append_only(spec, tools);
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

}  // namespace

TEST_CASE("multi-turn conversations built turn by turn equal the whole rendering, or the template is refused",
          "[env][conversation]") {
  // (tokenizer, template, with tools) -> append-only? Decided by reading each template:
  //  chatml, gemma3's own, the llama3 asset's (which prints a generation prompt even when not asked:
  //  the probe's final comparison covers only what was built), mistral's and llama2's (user answers;
  //  they refuse `tool` roles) only append;
  //  qwen3's own drops the empty <think> block of earlier assistant turns (not append-only);
  //  phi3's closes turns with <|end|>, which qwen3's vocabulary does not have as a token.
  enum Verdict { AppendOnly, Rewrites, NoEndOfTurn };
  struct Expect {
    Case c;
    bool tools;
    Verdict verdict;
  };
  const std::vector<Expect> cases{
      {{"qwen3", "chat/templates/chatml.jinja"}, false, AppendOnly},
      {{"qwen3", "chat/templates/chatml.jinja"}, true, AppendOnly},
      {{"qwen3", ""}, false, Rewrites},
      {{"qwen3", ""}, true, Rewrites},
      {{"gemma3", ""}, false, AppendOnly},
      {{"llama3", ""}, false, AppendOnly},
      {{"mistral", "chat/templates/mistral.jinja"}, false, AppendOnly},
      {{"mistral", "chat/templates/llama2.jinja"}, false, AppendOnly},
      {{"qwen3", "chat/templates/phi3.jinja"}, false, NoEndOfTurn},
  };
  for (const auto& e : cases) {
    auto t = tok::HfTokenizer::from_dir(asset("tokenizers/" + e.c.tokenizer));
    if (!e.c.chat_template.empty()) t.select_chat_template(asset(e.c.chat_template));
    const std::string label = e.c.tokenizer + (e.c.chat_template.empty() ? " (own template)" : " with " + e.c.chat_template);
    const std::string got = probe(t, label, e.tools ? calculator_tools() : env::Messages());
    std::printf("%-50s tools=%d -> %s\n", label.c_str(), e.tools, got.empty() ? "append-only" : got.c_str());
    INFO(label << " tools " << e.tools << ": " << got);
    CHECK(got.empty() == (e.verdict == AppendOnly));
    if (e.verdict == Rewrites) {
      CHECK(got.find("not append-only") != std::string::npos);
      CHECK(got.find(label) != std::string::npos);  // names the template
      CHECK(got.find("at token") != std::string::npos);  // and the first diverging position
    }
    if (e.verdict == NoEndOfTurn) CHECK(got.find("without an end-of-turn token") != std::string::npos);
  }
}

TEST_CASE("on_template_rewrite keep_sampled: a rewriting template's answers rendered after the opening and the turn", "[env][conversation]") {
  auto t = tok::HfTokenizer::from_dir(asset("tokenizers/qwen3"));
  env::ConversationSpec spec;
  spec.tok = &t;
  spec.label = "qwen3 (own template)";
  spec.end_of_turn = {*t.eos_id()};
  spec.keep_sampled = true;
  CHECK_NOTHROW(env::check_append_only(spec, calculator_tools()));
  CHECK_NOTHROW(env::check_append_only(spec, env::Messages()));

  env::Messages opening = env::Messages::array();
  opening.push_back({{"role", "user"}, {"content", "What is 12 times 7?"}});
  env::Conversation conv(spec, opening, calculator_tools());
  auto decode = [&](const std::vector<int32_t>& ids) { return t.tokenizer().decode(ids, false); };
  CHECK(decode(conv.prompt()).find("<tools>") != std::string::npos);  // the tools are declared in the prompt
  env::Messages tool = env::Messages::array();
  tool.push_back({{"role", "tool"}, {"content", "84"}});
  const auto d1 = conv.append("<think>\nmultiply\n</think>\n\n<tool_call>\n{\"name\": \"calculator\", \"arguments\": "
                              "{\"expression\": \"12*7\"}}\n</tool_call>", true, tool, "test");
  CHECK(decode(d1) == "\n<|im_start|>user\n<tool_response>\n84\n</tool_response><|im_end|>\n<|im_start|>assistant\n");
  env::Messages user = env::Messages::array();
  user.push_back({{"role", "user"}, {"content", "And 3 plus 4?"}});
  // A later turn (the template would now drop the first turn's reasoning): the answer alone, the same way.
  const auto d2 = conv.append("It is 84.", true, user, "test");
  CHECK(decode(d2) == "\n<|im_start|>user\nAnd 3 plus 4?<|im_end|>\n<|im_start|>assistant\n");
  // Cut short (no end-of-turn token sampled): the template's own closing comes first.
  const auto d3 = conv.append("7", false, user, "test");
  CHECK(decode(d3).rfind("<|im_end|>\n<|im_start|>user\n", 0) == 0);
  // Without the option the same template is refused.
  spec.keep_sampled = false;
  CHECK_THROWS_WITH(env::check_append_only(spec, calculator_tools()), Catch::Contains("not append-only"));
}
