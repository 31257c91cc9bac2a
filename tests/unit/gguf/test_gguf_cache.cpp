// The GGUF conversion cache stays within its budget: least recently used copies go first; the copy in
// use, copies used within the grace period and conversions in progress stay; a dead conversion's
// staging directory on this host goes.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <fstream>

#include "../temp_dir.h"
#include "gguf/cache.h"

using namespace pt;
namespace fs = std::filesystem;

namespace {
// A complete copy of `bytes` bytes last used `age` ago.
fs::path copy(const fs::path& root, const std::string& name, size_t bytes, std::chrono::minutes age) {
  const fs::path d = root / name;
  fs::create_directories(d);
  std::ofstream(d / "model.safetensors") << std::string(bytes, 'x');
  std::ofstream(d / gguf::kCompleteMarker) << "x\n";
  gguf::mark_used(d);
  fs::last_write_time(d / ".last_used", fs::file_time_type::clock::now() - age);
  return d;
}
}  // namespace

TEST_CASE("the GGUF cache evicts least recently used copies beyond its budget", "[gguf][cache]") {
  testing::TempDir t;
  const fs::path root = t.path;
  const auto in_use = copy(root, "a-1", 1000, std::chrono::minutes(600));  // oldest, but in use now
  const auto recent = copy(root, "b-2", 1000, std::chrono::minutes(5));    // within the grace period
  const auto newer = copy(root, "c-3", 1000, std::chrono::minutes(60));
  const auto older = copy(root, "d-4", 1000, std::chrono::minutes(120));
  fs::create_directories(root / "e-5");  // a conversion in progress: no .complete
  std::ofstream(root / "e-5" / "model.safetensors") << std::string(5000, 'x');
  // A staging directory of a process of this host that no longer runs, and one of this (live) process.
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  std::string h(host);
  for (auto& ch : h) ch = ch == '-' ? '_' : ch;
  const fs::path dead = root / ("f-6.tmp-" + h + "-999999999-1"), live = root / ("g-7.tmp-" + h + "-" + std::to_string(::getpid()) + "-1");
  fs::create_directories(dead);
  fs::create_directories(live);

  // Budget 3000: in use (1000) + grace (1000) + the most recent other (1000) stay; the older goes.
  auto ev = gguf::evict(root, in_use, 3000);
  CHECK(fs::exists(in_use));
  CHECK(fs::exists(recent));
  CHECK(fs::exists(newer));
  CHECK_FALSE(fs::exists(older));
  CHECK(fs::exists(root / "e-5"));
  CHECK_FALSE(fs::exists(dead));
  CHECK(fs::exists(live));
  CHECK(ev.removed.size() == 2);
  // Budget 0: only what is protected (in use, within the grace period) stays.
  ev = gguf::evict(root, in_use, 0);
  CHECK(fs::exists(in_use));
  CHECK(fs::exists(recent));
  CHECK_FALSE(fs::exists(newer));
  CHECK(ev.kept >= 2000);
}

TEST_CASE("the GGUF cache budget comes from POSTTRAIN_GGUF_CACHE_GB", "[gguf][cache]") {
  ::setenv("POSTTRAIN_GGUF_CACHE_GB", "0.5", 1);
  CHECK(gguf::cache_budget_bytes() == 500000000ull);
  ::setenv("POSTTRAIN_GGUF_CACHE_GB", "lots", 1);
  CHECK(gguf::cache_budget_bytes() == 64000000000ull);
  ::unsetenv("POSTTRAIN_GGUF_CACHE_GB");
  CHECK(gguf::cache_budget_bytes() == 64000000000ull);
}
