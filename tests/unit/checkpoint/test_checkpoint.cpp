// Atomic checkpoints: DONE marker last, incomplete/truncated ones skipped, keep-last-N, a failed
// save leaves earlier checkpoints untouched.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <functional>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

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

namespace {
std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}
std::function<void(const std::string&)> writes(const std::string& content) {
  return [content](const std::string& dir) { ckpt::write_file_synced(dir + "/weights.bin", content); };
}
std::vector<std::string> hidden_entries(const std::string& run) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(ckpt::checkpoints_dir(run)))
    if (e.path().filename().string()[0] == '.') out.push_back(e.path().filename().string());
  return out;
}
}  // namespace

TEST_CASE("re-saving a step swaps whole directories, and a failed or killed re-save keeps the old one", "[checkpoint]") {
  testing::TempDir run;
  const auto dir = ckpt::save(run.path, 5, writes("old state"), 1);
  REQUIRE(slurp(dir + "/DONE").find("\"step\": 5") != std::string::npos);
  CHECK(ckpt::save(run.path, 5, writes("new state"), 1) == dir);
  CHECK(slurp(dir + "/weights.bin") == "new state");
  CHECK(!ckpt::problem(dir));
  CHECK(hidden_entries(run.path).empty());

  CHECK_THROWS_WITH(ckpt::save(run.path, 5, [](const std::string& d) { writes("half")(d); fail("disk full (simulated)"); }, 1),
                    Catch::Contains("disk full") && Catch::Contains("intact: " + dir));
  CHECK(slurp(dir + "/weights.bin") == "new state");

  // The process dies while it writes the replacement: with keep_last 1 this is the only checkpoint.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    try {
      ckpt::save(run.path, 5, [](const std::string& d) { writes("doomed")(d); ::raise(SIGKILL); }, 1);
    } catch (...) {
    }
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  auto list = ckpt::list_complete(run.path, false);
  REQUIRE(list.size() == 1);
  CHECK(list[0].step == 5);
  CHECK(slurp(dir + "/weights.bin") == "new state");
}

TEST_CASE("publish_dir names a directory or swaps it with the existing one", "[checkpoint]") {
  testing::TempDir root;
  const std::string a = root.path + "/.a.tmp", target = root.path + "/model";
  fs::create_directories(a);
  ckpt::write_file_synced(a + "/x", "1");
  ckpt::publish_dir(a, target);
  CHECK(slurp(target + "/x") == "1");
  CHECK(!fs::exists(a));
  fs::create_directories(a);
  ckpt::write_file_synced(a + "/y", "2");
  ckpt::publish_dir(a, target);
  CHECK(slurp(target + "/y") == "2");
  CHECK(!fs::exists(target + "/x"));  // the old directory is gone, not merged
  CHECK(!fs::exists(a));
  CHECK_THROWS_WITH(ckpt::publish_dir(root.path + "/missing", target), Catch::Contains("cannot rename"));
  CHECK(slurp(target + "/y") == "2");
}

TEST_CASE("a complete checkpoint set aside by an interrupted replace is not listed as a step", "[checkpoint]") {
  testing::TempDir run;
  const auto dir = ckpt::save(run.path, 7, writes("state"), 3);
  const std::string aside = ckpt::checkpoints_dir(run.path) + "/.step-00000007.old-4242";
  fs::rename(dir, aside);
  CHECK(ckpt::list_complete(run.path).empty());
  CHECK(!ckpt::problem(aside));  // still whole: the warning tells the user to rename it back
}
