#include <catch2/catch.hpp>

#include "core/error.h"

TEST_CASE("error location formats file:line:col and key") {
  pt::Error e(pt::Location{"r.yaml", 3, 7, "optimizer.lr"}, "expected a number");
  REQUIRE(std::string(e.what()) == "r.yaml:3:7 (optimizer.lr): expected a number");
  REQUIRE(e.message() == "expected a number");
}

TEST_CASE("did_you_mean suggests near misses only") {
  std::vector<std::string> keys{"learning_rate", "weight_decay", "betas"};
  REQUIRE(pt::did_you_mean("learning_rat", keys) == "learning_rate");
  REQUIRE(pt::did_you_mean("wieght_decay", keys) == "weight_decay");
  REQUIRE(pt::did_you_mean("zzz", keys).empty());
}
