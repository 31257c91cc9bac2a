// The table of recipe keys that name inputs (recipe/inputs.h): relative paths resolve against the
// recipe file's directory, commands stay as written, and every input key is listed with its kind.
#include <catch2/catch.hpp>

#include <map>

#include "../temp_dir.h"
#include "recipe/inputs.h"
#include "recipe/recipe.h"

using namespace pt::recipe;

TEST_CASE("recipe inputs: paths resolve against the recipe's directory, commands stay as written",
          "[recipe]") {
  pt::testing::TempDir t;
  const std::string file = t.write("sub/r.yaml", {
      "run: {name: t}",
      "model: {path: m}",
      "tokenizer: {path: tok, chat_template: tpl.jinja}",
      "data: {seq_len: 64, packing: false, sources: [{path: a.jsonl, format: prompts}], eval_sources: [{path: e/*.jsonl, format: prompts}]}",
      "algorithm:",
      "  name: grpo",
      "  grpo:",
      "    beta: 0.04",
      "    reference_path: ref",
      "    rewards: [{name: command, command: python3 score.py --x}, {name: model, model: rm}]",
      "trainer: {global_batch_tokens: 256}"});
  const LoadedRecipe r = load_recipe(file);
  std::map<std::string, std::pair<std::string, InputKind>> seen;
  for_each_input(r.resolved, [&](const std::string& key, const Node& n, InputKind kind) { seen[key] = {n.scalar, kind}; });
  const std::string dir = t.path + "/sub/";
  const std::map<std::string, std::pair<std::string, InputKind>> want{
      {"model.path", {dir + "m", InputKind::Path}},
      {"tokenizer.path", {dir + "tok", InputKind::Path}},
      {"tokenizer.chat_template", {dir + "tpl.jinja", InputKind::Path}},
      {"data.sources[0].path", {dir + "a.jsonl", InputKind::Path}},
      {"data.eval_sources[0].path", {dir + "e/*.jsonl", InputKind::Path}},
      {"algorithm.grpo.reference_path", {dir + "ref", InputKind::Path}},
      {"algorithm.grpo.rewards[0].command", {"python3 score.py --x", InputKind::Command}},
      {"algorithm.grpo.rewards[1].model", {dir + "rm", InputKind::Path}}};
  CHECK(seen == want);
}
