// Atomic checkpoints: DONE marker last, incomplete/truncated ones skipped, keep-last-N, a failed
// save leaves earlier checkpoints untouched.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "checkpoint/checkpoint.h"
#include "../temp_dir.h"
#include "core/error.h"

using namespace pt;
namespace fs = std::filesystem;

namespace {
void writer(const std::string& dir) {
  ckpt::write_file_synced(dir + "/weights.bin", std::string(1000, 'w'));
  fs::create_directories(dir + "/model");
  ckpt::write_file_synced(dir + "/model/config.json", "{}");
}
}  // namespace

TEST_CASE("saves are complete, listed newest first, and pruned to keep_last", "[checkpoint]") {
  testing::TempDir run;
  for (int s : {2, 4, 6}) ckpt::save(run.path, s, writer, 2);
  auto list = ckpt::list_complete(run.path);
  REQUIRE(list.size() == 2);
  CHECK(list[0].step == 6);
  CHECK(list[1].step == 4);
  CHECK(!fs::exists(ckpt::checkpoints_dir(run.path) + "/step-00000002"));
  CHECK(!ckpt::problem(list[0].dir));
}

TEST_CASE("missing DONE, missing or truncated files make a checkpoint skipped", "[checkpoint]") {
  testing::TempDir run;
  ckpt::save(run.path, 1, writer, 5);
  auto newest = ckpt::save(run.path, 2, writer, 5);
  {
    std::ofstream f(newest + "/weights.bin", std::ios::trunc);
    f << "short";
  }
  CHECK_THAT(*ckpt::problem(newest), Catch::Contains("weights.bin has 5 bytes, 1000 were written"));
  CHECK(ckpt::list_complete(run.path).front().step == 1);
  fs::remove(newest + "/weights.bin");
  CHECK_THAT(*ckpt::problem(newest), Catch::Contains("weights.bin is missing"));
  auto third = ckpt::save(run.path, 3, writer, 5);
  fs::remove(third + "/DONE");
  CHECK_THAT(*ckpt::problem(third), Catch::Contains("no DONE marker"));
  CHECK(ckpt::list_complete(run.path).front().step == 1);
}

TEST_CASE("a failing save removes its temporary directory and keeps the previous checkpoint", "[checkpoint]") {
  testing::TempDir run;
  auto first = ckpt::save(run.path, 10, writer, 1);
  auto failing = [](const std::string& dir) {
    writer(dir);
    fail("No space left on device (simulated)");
  };
  CHECK_THROWS_WITH(ckpt::save(run.path, 20, failing, 1),
                    Catch::Contains("No space left") && Catch::Contains("intact: " + first));
  auto list = ckpt::list_complete(run.path);
  REQUIRE(list.size() == 1);
  CHECK(list[0].step == 10);
  for (const auto& e : fs::directory_iterator(ckpt::checkpoints_dir(run.path)))
    CHECK(e.path().filename().string().rfind(".step", 0) != 0);
}
