#include <catch2/catch.hpp>

#include "core/version.h"

TEST_CASE("version report names torch and the backends") {
  auto s = pt::version_report();
  REQUIRE(s.find("torch     2.") != std::string::npos);
  REQUIRE(s.find("mpi") != std::string::npos);
}
