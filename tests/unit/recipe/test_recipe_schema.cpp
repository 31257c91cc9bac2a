#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "recipe/recipe.h"

// The checked-in schema is what editors use; it must be exactly what the parser's field lists produce.
// Regenerate with: build/posttrain schema > schemas/recipe.schema.json
TEST_CASE("schemas/recipe.schema.json matches the parser's fields") {
  std::ifstream in(std::string(PT_SOURCE_DIR) + "/schemas/recipe.schema.json");
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  auto checked_in = nlohmann::json::parse(ss.str());
  auto generated = nlohmann::json::parse(pt::recipe::json_schema());
  if (checked_in != generated) {
    auto patch = nlohmann::json::diff(checked_in, generated);
    FAIL("schema out of date; regenerate with `posttrain schema > schemas/recipe.schema.json`. JSON patch:\n"
         << patch.dump(1).substr(0, 4000));
  }
}

TEST_CASE("schema is strict and carries ranges, enums and defaults") {
  auto s = nlohmann::json::parse(pt::recipe::json_schema());
  REQUIRE(s["additionalProperties"] == false);
  auto lr = s["properties"]["optimizer"]["properties"]["lr"];
  REQUIRE(lr["type"] == "number");
  REQUIRE(lr["exclusiveMinimum"] == 0.0);
  REQUIRE(lr["default"] == 2e-5);
  auto attn = s["properties"]["model"]["properties"]["attention"];
  REQUIRE(attn["enum"].size() == 4);
  REQUIRE(s["properties"]["run"]["required"][0] == "name");
}
