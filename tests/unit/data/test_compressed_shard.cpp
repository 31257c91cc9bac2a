// Compressed shards are streamed through a chunk index: every record reads back exactly as from the
// plain file (text and line number) in any order, across gzip members and zstd frames, with memory
// bounded by the chunk cache; the shuffle of a compressed source still visits every record once
// per epoch and restores exactly.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <set>

#include "data/compressed_shard.h"
#include "data/rng.h"
#include "data/shards.h"
#include "data/stream.h"
#include "data_fixtures.h"

using namespace pt;
using namespace pt::data;

namespace {
// Lines of varied length with blank lines, whitespace-only lines and CRLF endings mixed in.
std::vector<std::string> varied_lines(int n, uint64_t seed) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    const uint64_t h = hash3(seed, i, 7);
    if (h % 17 == 0) out.push_back("");
    if (h % 19 == 0) out.push_back(" \t ");
    std::string body = "{\"i\": " + std::to_string(i) + ", \"text\": \"";
    for (uint64_t k = 0; k < 5 + h % 120; ++k) body += static_cast<char>('a' + hash3(seed, i, k) % 26);
    body += "\"}";
    if (h % 5 == 0) body += "\r";
    out.push_back(body);
  }
  return out;
}

void sh(const std::string& cmd) { REQUIRE(std::system(cmd.c_str()) == 0); }

// Reads every record of `plain` through `compressed` in a random order and compares text and line.
void check_same(const std::string& plain, const std::string& compressed, uint64_t chunk_bytes, size_t cached = 2) {
  Shards ref(plain, "k");
  ShardOptions o;
  o.chunk_bytes = chunk_bytes;
  o.cached_chunks = cached;
  Shards s(compressed, "k", o);
  REQUIRE(s.size() == ref.size());
  CHECK_FALSE(s.random_access());
  std::vector<size_t> order(s.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(5));
  for (size_t i : order) {
    REQUIRE(s.record(i) == ref.record(i));
    const std::string w = s.where(i), wr = ref.where(i);
    REQUIRE(w.substr(w.rfind(':')) == wr.substr(wr.rfind(':')));
  }
  // Chunks tile the records in order.
  uint64_t next = 0;
  for (const auto& c : s.chunks()) {
    CHECK(c.first_record == next);
    next += c.records;
  }
  CHECK(next == s.size());
  CHECK(s.fingerprint() == ref.fingerprint());
}
}  // namespace

TEST_CASE("compressed shards: records and line numbers equal the plain file's in any order", "[data][stream]") {
  testing::TempDir dir;
  const std::string plain = dir.write("a.jsonl", varied_lines(3000, 1));
  sh("gzip -k -6 " + plain);
  sh("zstd -q -3 " + plain + " -o " + plain + ".zst");
  for (uint64_t chunk : {1ull << 20, 4096ull, 100ull, 1ull}) {
    INFO("chunk bytes " << chunk);
    check_same(plain, plain + ".gz", chunk);
    check_same(plain, plain + ".zst", chunk);
  }
  // The single zstd frame has one access point: chunks after the first one cannot be sought.
  CompressedShard z(plain + ".zst", 4096, 2);
  CHECK(z.access_points() == 1);
  CHECK(z.chunks().size() > 10);
  CHECK_FALSE(z.chunks().back().seekable);
  // gzip gets access points inside the stream (at deflate block boundaries, every half chunk).
  CompressedShard g(plain + ".gz", 4096, 2);
  CHECK(g.access_points() > 3);
}

TEST_CASE("compressed shards: concatenated gzip members and zstd frames", "[data][stream]") {
  testing::TempDir dir;
  const auto a = varied_lines(900, 2), b = varied_lines(700, 3);
  std::vector<std::string> both = a;
  both.insert(both.end(), b.begin(), b.end());
  const std::string plain = dir.write("ab.jsonl", both);
  const std::string pa = dir.write("a.jsonl", a), pb = dir.write("b.jsonl", b);
  sh("gzip -k " + pa + " " + pb + " && cat " + pa + ".gz " + pb + ".gz > " + dir.path + "/ab.jsonl.gz");
  sh("zstd -q " + pa + " " + pb + " && cat " + pa + ".zst " + pb + ".zst > " + dir.path + "/ab.jsonl.zst");
  for (uint64_t chunk : {64ull << 10, 2000ull}) {
    check_same(plain, plain + ".gz", chunk);
    check_same(plain, plain + ".zst", chunk);
  }
  CHECK(CompressedShard(plain + ".zst", 2000, 2).access_points() == 2);
}

TEST_CASE("compressed shards: truncated or corrupt files are named", "[data][stream]") {
  testing::TempDir dir;
  const std::string plain = dir.write("a.jsonl", varied_lines(2000, 4));
  sh("gzip -k " + plain + " && zstd -q " + plain);
  for (const char* ext : {".gz", ".zst"}) {
    const std::string c = plain + ext, cut = dir.path + "/cut.jsonl" + ext;
    sh("head -c $(( $(stat -c %s " + c + ") / 2 )) " + c + " > " + cut);
    CHECK_THROWS_WITH(Shards(cut, "k"), Catch::Contains(cut) && Catch::Contains("unexpected end"));
    const std::string bad = dir.path + "/bad.jsonl" + ext;
    sh("cp " + c + " " + bad + " && printf 'garbagegarbagegarbage' | dd of=" + bad +
       " bs=1 seek=200 conv=notrunc status=none");
    CHECK_THROWS_WITH(Shards(bad, "k"), Catch::Contains(bad) && Catch::Contains("corrupt"));
  }
}

TEST_CASE("compressed sources: each epoch visits every record once, in chunk-local order, and restores exactly",
          "[data][stream][resume]") {
  testing::TempDir dir;
  const std::string plain = dir.write("c.jsonl", testing::chat_lines(400));
  sh("zstd -q " + plain);
  DataOptions o;
  SourceOptions s;
  s.path = plain + ".zst";
  s.epochs = 2;
  o.sources = {s};
  o.seq_len = 512;
  o.stream_chunk_kb = 2;  // ~40 records per chunk
  DataSet ds(o, &testing::qwen3(), {}, 11);
  REQUIRE_FALSE(ds.train_sources()[0].shards->random_access());
  REQUIRE(ds.train_sources()[0].shards->chunks().size() > 8);

  DocStream straight(ds, DocStream::Split::Train);
  std::vector<uint32_t> seen;
  nlohmann::json saved;
  std::vector<uint32_t> after;
  while (auto u = straight.next()) {
    seen.push_back(u->ref.record);
    if (seen.size() == 537) saved = straight.state();
    if (seen.size() > 537) after.push_back(u->ref.record);
  }
  REQUIRE(seen.size() == 800);
  for (int e = 0; e < 2; ++e) {
    std::set<uint32_t> epoch(seen.begin() + 400 * e, seen.begin() + 400 * (e + 1));
    CHECK(epoch.size() == 400);
  }
  // Shuffled, but not in file order and differently per epoch.
  CHECK_FALSE(std::is_sorted(seen.begin(), seen.begin() + 400));
  CHECK(std::vector<uint32_t>(seen.begin(), seen.begin() + 400) != std::vector<uint32_t>(seen.begin() + 400, seen.end()));
  // Locality: the first epoch is a sequence of groups of 4 whole chunks (the last group fewer).
  const auto& chunks = ds.train_sources()[0].shards->chunks();
  auto chunk_of = [&](uint32_t r) {
    size_t c = 0;
    while (c + 1 < chunks.size() && chunks[c + 1].first_record <= r) ++c;
    return c;
  };
  std::set<size_t> group;
  size_t draws = 0, groups = 0;
  auto close_group = [&] {
    size_t records = 0;
    for (size_t c : group) records += chunks[c].records;
    CHECK(records == draws);
    ++groups;
    group.clear();
    draws = 0;
  };
  for (size_t k = 0; k < 400; ++k) {
    const size_t c = chunk_of(seen[k]);
    if (!group.count(c) && group.size() == 4) close_group();
    group.insert(c);
    ++draws;
  }
  close_group();
  CHECK(groups == (chunks.size() + 3) / 4);

  DocStream resumed(ds, DocStream::Split::Train);
  resumed.restore(saved);
  std::vector<uint32_t> again;
  while (auto u = resumed.next()) again.push_back(u->ref.record);
  CHECK(again == after);
}
