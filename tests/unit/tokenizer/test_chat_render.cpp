// Chat-template rendering identical to transformers' apply_chat_template (references from
// scripts/make_chat_fixtures.py), including templates that raise (with the template's message), tools
// and template kwargs; templates that print bos_token are rendered with a tokenizer that has one.
#include <catch2/catch.hpp>

#include <cstdio>
#include <map>

#include "core/compressed.h"
#include "core/error.h"
#include "tokenizer/hf_tokenizer.h"

using namespace pt;

namespace {
const std::string kAssets = std::string(PT_SOURCE_DIR) + "/tests/assets/";
}

TEST_CASE("chat rendering matches transformers for every template and conversation", "[tokenizer][chat]") {
  auto ref = nlohmann::ordered_json::parse(read_file(kAssets + "chat/render_ref.json"));
  std::map<std::string, std::unique_ptr<tok::HfTokenizer>> toks;
  size_t checked = 0, errors = 0;
  std::map<std::string, int> per_template;
  for (const auto& c : ref["cases"]) {
    std::string tname = c["tokenizer"], label = c["template"];
    auto& t = toks[tname];
    if (!t) t = std::make_unique<tok::HfTokenizer>(tok::HfTokenizer::from_dir(kAssets + "tokenizers/" + tname));
    tok::ChatOptions o;
    o.add_generation_prompt = c["add_generation_prompt"];
    if (c.contains("tools")) o.tools = c["tools"];
    if (c.contains("extra")) o.extra = c["extra"];
    if (c.contains("file")) {
      t->select_chat_template(kAssets + "chat/templates/" + c["file"].get<std::string>());
    } else {
      t->select_chat_template("default");
    }
    const auto& conv = ref["conversations"][c["conversation"].get<std::string>()];
    INFO("template " << label << ", conversation " << c["conversation"] << ", gen " << o.add_generation_prompt);
    if (c.contains("error")) {
      // A template's raise_exception message is the user's diagnosis: ours must carry it word for word.
      // Python's own TypeError (a list added to a string) is worded by each engine: ours names the types.
      const std::string want = c["exception"] == "TemplateError" ? c["message"].get<std::string>() : "list";
      CHECK_THROWS_WITH(t->render_chat(conv, o), Catch::Contains(want));
      ++errors;
    } else {
      std::string got;
      REQUIRE_NOTHROW(got = t->render_chat(conv, o).text);
      CHECK(got == c["text"].get<std::string>());
    }
    ++checked;
    ++per_template[label];
  }
  std::printf("chat rendering: %zu cases (%zu expected template errors) over %zu templates\n", checked, errors,
              per_template.size());
  REQUIRE(per_template.size() == 9);
}
