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
