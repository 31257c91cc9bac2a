#include <catch2/catch.hpp>

#include "recipe/fields.h"
#include "registry/builtins.h"

TEST_CASE("registry lists builtins and rejects unknown names with suggestions") {
  pt::registry::register_builtins();
  auto& r = pt::registry::registries();
  REQUIRE(r.architectures.contains("Qwen3ForCausalLM"));
  REQUIRE(r.architectures.get("LlamaForCausalLM")->hf_name == "LlamaForCausalLM");
  REQUIRE_THROWS_WITH(r.architectures.get("Qwen3ForCausalLm"),
                      Catch::Contains("unknown architecture 'Qwen3ForCausalLm' (did you mean 'Qwen3ForCausalLM'?)"));
  REQUIRE_THROWS_WITH(r.attention.add("sdpa", "", pt::model::AttentionBackend::Sdpa),
                      Catch::Contains("registered twice"));
  auto text = pt::registry::format_listing("attention");
  REQUIRE_THAT(text, Catch::Contains("flash"));
  REQUIRE_THROWS_WITH(pt::registry::listing("atention"), Catch::Contains("did you mean 'attention'"));
}

TEST_CASE("registry: the GRPO advantage estimators and policy losses are the recipe's choices") {
  pt::registry::register_builtins();
  auto& r = pt::registry::registries();
  for (const auto& e : r.advantages.entries())
    CHECK(pt::recipe::enum_name(e.factory) == e.name);
  for (const auto& e : r.policy_losses.entries())
    CHECK(pt::recipe::enum_name(e.factory) == e.name);
  CHECK(r.advantages.entries().size() == 5);
  CHECK(r.policy_losses.entries().size() == 5);
  REQUIRE_THAT(pt::registry::format_listing("advantage"), Catch::Contains("reinforce_pp_baseline"));
}
