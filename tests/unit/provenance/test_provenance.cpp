// Provenance: content hashes taken while shards are indexed equal a whole-file hash, records
// round-trip through provenance.jsonl, and the comparison groups and counts what it should.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "../temp_dir.h"
#include "core/fingerprint.h"
#include "data/shards.h"
#include "provenance/compare.h"
#include "provenance/metrics.h"
#include "provenance/store.h"

using namespace pt;
using nlohmann::json;
using pt::testing::TempDir;

namespace {
std::vector<std::string> numbered_lines(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("{\"text\": \"record " + std::to_string(i * 7919 % 1000) + "\"}");
  return out;
}

void overwrite_byte(const std::string& path, long offset, char c) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(offset);
  f.put(c);
}

json record_with(const std::string& commit, const std::string& host, const std::string& hash,
                 const std::string& path = "/data/train.jsonl") {
  FileFingerprint f;
  f.name = "train.jsonl";
  f.path = path;
  f.size = 100;
  f.hash = hash;
  f.hashed_bytes = 100;
  InputFingerprint in{"data.sources[0].path", path, {f}};
  return json{{"format", provenance::kFormat},
              {"build", {{"commit", commit}, {"torch", "2.11.0"}}},
              {"environment", {{"host", host}, {"threads", 2}}},
              {"launch", {{"world_size", 1}}},
              {"command", {{"argv", {"posttrain", "run", "a.yaml"}}}},
              {"inputs", json::array({in.to_json()})}};
}
}  // namespace

TEST_CASE("provenance: CRC-32 is zlib's", "[provenance]") {
  Crc32 c;
  c.update("123456789", 9);
  CHECK(c.hex() == "crc32:cbf43926");  // the CRC-32 check value
  CHECK(c.bytes() == 9);
}

TEST_CASE("provenance: an edit of the same size changes a file's hash", "[provenance]") {
  TempDir t;
  const std::string p = t.write("a.jsonl", numbered_lines(50));
  const auto before = fingerprint_file(p, "a.jsonl");
  overwrite_byte(p, 20, 'X');
  const auto after = fingerprint_file(p, "a.jsonl");
  CHECK(before.size == after.size);
  CHECK(before.hashed_bytes == before.size);
  CHECK(before.hash != after.hash);
  CHECK(fingerprint_file(t.path + "/missing", "m").error != "");
}

TEST_CASE("provenance: shards hash every byte while indexing, plain and compressed", "[provenance][data]") {
  TempDir t;
  // Large enough to cross the plain indexer's 4 MiB hashing step and several compressed chunks.
  std::vector<std::string> lines = numbered_lines(300000);
  lines.push_back("");
  lines.push_back("   ");
  const std::string plain = t.write("d/a.jsonl", lines);
  REQUIRE(std::system(("gzip -k -6 " + plain).c_str()) == 0);
  REQUIRE(std::system(("zstd -q -3 " + plain + " -o " + plain + ".zst").c_str()) == 0);
  data::ShardOptions small;
  small.chunk_bytes = 1 << 20;
  for (const std::string file : {plain, plain + ".gz", plain + ".zst"}) {
    data::Shards s(file, "data.sources[0]", small);
    REQUIRE(s.file_fingerprints().size() == 1);
    const auto& f = s.file_fingerprints()[0];
    const auto whole = fingerprint_file(file, file);
    INFO(file);
    CHECK(f.size == whole.size);
    CHECK(f.hashed_bytes == whole.size);
    CHECK(f.hash == whole.hash);
  }
  // A file without a final newline, and a directory of shards: one fingerprint per file.
  std::ofstream(t.path + "/d/b.jsonl") << "{\"text\": \"x\"}";
  data::Shards dir(t.path + "/d", "data.sources[0]", small);
  REQUIRE(dir.file_fingerprints().size() == 4);
  for (const auto& f : dir.file_fingerprints()) CHECK(f.hash == fingerprint_file(f.path, f.path).hash);
}

TEST_CASE("provenance: a safetensors header is hashed apart from the whole file", "[provenance]") {
  TempDir t;
  const std::string header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  bytes += header + std::string(8, '\1');
  const std::string p = t.path + "/m.safetensors";
  std::ofstream(p, std::ios::binary) << bytes;
  const auto a = fingerprint_safetensors(p, "m.safetensors");
  Crc32 h;
  h.update(header.data(), header.size());
  CHECK(a.header_hash == h.hex());
  CHECK(a.hash == fingerprint_file(p, "m").hash);
  overwrite_byte(p, static_cast<long>(bytes.size()) - 1, '\2');  // a weight, not the header
  const auto b = fingerprint_safetensors(p, "m.safetensors");
  CHECK(b.header_hash == a.header_hash);
  CHECK(b.hash != a.hash);
}

TEST_CASE("provenance: records append, and a line cut by a kill is skipped", "[provenance]") {
  TempDir t;
  provenance::append(t.path, record_with("a", "h", "crc32:1"));
  provenance::append(t.path, record_with("b", "h", "crc32:1"));
  std::ofstream(t.path + "/" + provenance::kFile, std::ios::app) << "{\"format\": \"posttr";
  auto r = provenance::read(t.path + "/" + provenance::kFile);
  REQUIRE(r.size() == 2);
  CHECK(r[1]["build"]["commit"] == "b");
  t.write("bad/provenance.jsonl", {"{\"format\": \"other\"}", "{}"});
  CHECK_THROWS_WITH(provenance::read(t.path + "/bad/provenance.jsonl"),
                    Catch::Contains("provenance.jsonl:1") && Catch::Contains("not a provenance record"));
}

TEST_CASE("provenance: comparison groups differences and counts only those that can change results",
          "[provenance]") {
  const json a = record_with("abc", "host-1", "crc32:00000001");
  CHECK(provenance::compare(a, a).empty());

  auto d = provenance::compare(a, record_with("abc", "host-2", "crc32:00000001"));
  REQUIRE(d.size() == 1);
  CHECK(d[0].key == "environment.host");
  CHECK_FALSE(d[0].counts);

  d = provenance::compare(a, record_with("def", "host-1", "crc32:00000002"));
  REQUIRE(d.size() == 2);
  CHECK(d[0].group == "code/build");
  CHECK(d[0].key == "build.commit");
  CHECK(d[1].group == "inputs");
  CHECK(d[1].key == "data.sources[0].path: train.jsonl");
  CHECK(d[1].note == "content changed, same size");
  CHECK(provenance::counting(d) == 2);
  const std::string text = provenance::format(d);
  CHECK(text.find("code/build:\n  ~ build.commit: abc -> def") != std::string::npos);
  CHECK(text.find("inputs:\n  ~ data.sources[0].path: train.jsonl: crc32:00000001, 100 bytes -> crc32:00000002") !=
        std::string::npos);

  // The same content elsewhere does not count; a file only on one side does.
  d = provenance::compare(a, record_with("abc", "host-1", "crc32:00000001", "/moved/train.jsonl"));
  REQUIRE(d.size() == 1);
  CHECK_FALSE(d[0].counts);
  json b = a;
  b["inputs"][0]["files"].push_back(b["inputs"][0]["files"][0]);
  b["inputs"][0]["files"][1]["name"] = "extra.jsonl";
  d = provenance::compare(a, b);
  REQUIRE(d.size() == 1);
  CHECK(d[0].counts);
  CHECK(d[0].note == "only in B");

  // Thread count and launch layout count; the command line does not.
  b = a;
  b["environment"]["threads"] = 1;
  b["launch"]["world_size"] = 2;
  b["command"]["argv"] = {"posttrain", "run", "b.yaml"};
  d = provenance::compare(a, b);
  REQUIRE(d.size() == 3);
  CHECK((d[0].key == "environment.threads" && d[0].counts));
  CHECK((d[1].group == "launch" && d[1].key == "command.argv" && !d[1].counts));
  CHECK((d[2].key == "launch.world_size" && d[2].counts));
}

TEST_CASE("provenance: the binary's hash counts only where the commit cannot tell two builds apart",
          "[provenance]") {
  auto with = [](const std::string& commit, const std::string& binary) {
    json r = record_with(commit, "h", "crc32:00000001");
    r["build"]["binary"] = binary;
    return r;
  };
  auto d = provenance::compare(with("abc", "crc32:1"), with("abc", "crc32:2"));
  REQUIRE(d.size() == 1);
  CHECK_FALSE(d[0].counts);  // a rebuild of the same clean commit
  d = provenance::compare(with("abc-dirty", "crc32:1"), with("abc-dirty", "crc32:2"));
  REQUIRE(d.size() == 1);
  CHECK(d[0].counts);  // uncommitted changes: only the binary tells
  d = provenance::compare(with("abc", "crc32:1"), with("def", "crc32:2"));
  REQUIRE(d.size() == 2);
  CHECK(provenance::counting(d) == 1);  // the commit counts, its binary is not counted twice
}

TEST_CASE("provenance: metrics diverge at the first step beyond the tolerance", "[provenance]") {
  TempDir t;
  const auto a = t.write("a.jsonl", {"{\"step\":10,\"loss\":2.0,\"tokens_per_s\":100}",
                                     "{\"step\":20,\"loss\":1.5,\"eval/accuracy\":0.2}",
                                     "{\"step\":30,\"loss\":1.0}", "{\"step\":40,\"loss\":0.5}"});
  const auto b = t.write("b.jsonl", {"{\"step\":10,\"loss\":2.0,\"tokens_per_s\":300}",
                                     "{\"step\":20,\"loss\":1.5000001,\"eval/accuracy\":0.2}",
                                     "{\"step\":30,\"loss\":1.2}", "{\"step\":40,\"loss\":0.8}", "{\"step\":50,\"lo"});
  auto v = provenance::compare_metrics(a, b, {});
  CHECK(v.common_steps == 4);
  REQUIRE(v.diverged);
  CHECK(v.first_step == 20);
  CHECK(v.first_key == "loss");
  CHECK(v.max_step == 40);  // 0.5 -> 0.8 is the largest relative difference
  provenance::MetricsOptions o;
  o.tolerance = 1e-6;
  v = provenance::compare_metrics(a, b, o);
  CHECK(v.first_step == 30);
  o.last_step_a = o.last_step_b = 20;  // checkpoints at step 20
  v = provenance::compare_metrics(a, b, o);
  CHECK_FALSE(v.diverged);
  CHECK(v.common_steps == 2);
  t.write("c.jsonl", {"{\"step\":10}", "garbage", "{\"step\":20}"});
  CHECK_THROWS_WITH(provenance::compare_metrics(a, t.path + "/c.jsonl", {}), Catch::Contains("c.jsonl:2"));
  CHECK_FALSE(provenance::is_result_metric("tokens_per_s"));
  CHECK_FALSE(provenance::is_result_metric("time/rollout_s"));
  CHECK(provenance::is_result_metric("rewards/margin"));
  CHECK(provenance::is_result_metric("reward_std"));
}
