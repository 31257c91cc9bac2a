#include <catch2/catch.hpp>

#include "recipe/diff.h"
#include "recipe/recipe.h"

using namespace pt::recipe;

static Node resolved(const std::vector<std::string>& sets) {
  Node n = parse_yaml(R"(run: {name: t}
model: {path: m}
data: {seq_len: 64, sources: [{path: a.jsonl}]}
trainer: {global_batch_tokens: 256}
)", "x.yaml");
  for (const auto& s : sets) apply_override(n, s);
  return from_tree(n).resolved;
}

TEST_CASE("identical recipes have no diff") {
  REQUIRE(diff(resolved({}), resolved({})).empty());
}

TEST_CASE("diff reports changed, added and removed keys grouped by section") {
  auto a = resolved({"optimizer.lr=1e-4"});
  auto b = resolved({"optimizer.lr=3e-4", "model.lora.rank=8", "logging.every=5"});
  auto changes = diff(a, b);
  std::string text = format_diff(changes);
  REQUIRE_THAT(text, Catch::Contains("optimizer:\n  ~ lr: 0.0001 -> 0.0003"));
  REQUIRE_THAT(text, Catch::Contains("model:\n"));
  REQUIRE_THAT(text, Catch::Contains("+ lora.rank: 8"));
  bool saw_logging = false;
  for (const auto& c : changes)
    if (c.path == "logging.every") {
      saw_logging = true;
      REQUIRE(is_resume_safe(c));
    } else if (c.path == "optimizer.lr") {
      REQUIRE_FALSE(is_resume_safe(c));
    }
  REQUIRE(saw_logging);
}

TEST_CASE("list-of-mapping entries diff by index") {
  Node a = parse_yaml("data: {sources: [{path: a, weight: 1}, {path: b, weight: 1}]}", "a");
  Node b = parse_yaml("data: {sources: [{path: a, weight: 2}]}", "b");
  auto changes = diff(a, b);
  REQUIRE(changes.size() == 3);
  REQUIRE(changes[0].path == "data.sources[0].weight");
  REQUIRE(changes[0].kind == Change::Kind::Changed);
  REQUIRE(changes[1].kind == Change::Kind::Removed);
}
