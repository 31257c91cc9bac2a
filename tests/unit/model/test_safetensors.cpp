#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "core/error.h"
#include "model/safetensors.h"

using pt::model::SafetensorsFile;

namespace {
std::string tmp_path(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("pt_safetensors_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

// A file with the given header JSON and `data_bytes` bytes of data.
std::string write_raw(const std::string& name, const std::string& header, size_t data_bytes, uint64_t len_override = 0) {
  std::string path = tmp_path(name);
  std::ofstream out(path, std::ios::binary);
  uint64_t n = len_override ? len_override : header.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xff));
  out << header << std::string(data_bytes, '\0');
  return path;
}

std::string error_of(const std::string& path) {
  try {
    SafetensorsFile f(path);
  } catch (const pt::Error& e) {
    return e.what();
  }
  return "<no error>";
}
}  // namespace

TEST_CASE("safetensors round trip with dtype conversion on load and row slices") {
  auto a = at::arange(12, at::kFloat).view({3, 4});
  auto b = at::arange(5, at::kFloat).to(at::kBFloat16);
  std::string path = tmp_path("ok.safetensors");
  pt::model::save_safetensors(path, {{"a", a}, {"b", b}});
  SafetensorsFile f(path);
  REQUIRE(f.names() == std::vector<std::string>{"a", "b"});
  REQUIRE(at::equal(f.view("a"), a));
  REQUIRE(f.view("b").scalar_type() == at::kBFloat16);
  REQUIRE(at::equal(f.view("b").to(at::kFloat), at::arange(5, at::kFloat)));
  REQUIRE(at::equal(f.view_rows("a", 1, 3), a.slice(0, 1, 3)));
  REQUIRE_THROWS_WITH(f.view_rows("a", 2, 4), Catch::Contains("rows [2, 4) out of range"));
  REQUIRE_THROWS_WITH(f.view("c"), Catch::Contains("no tensor named 'c'"));
}

TEST_CASE("corrupted or hostile safetensors files are clear errors") {
  CHECK_THAT(error_of(write_raw("empty-header.st", "", 0)), Catch::Contains("header is not valid JSON"));
  {
    std::string p = tmp_path("tiny.st");
    std::ofstream(p, std::ios::binary) << "abc";
    CHECK_THAT(error_of(p), Catch::Contains("not a safetensors file (only 3 bytes)"));
  }
  CHECK_THAT(error_of(write_raw("huge.st", "{}", 0, 1ull << 40)), Catch::Contains("exceeds the 100 MiB limit"));
  CHECK_THAT(error_of(write_raw("past.st", "{}", 0, 4096)), Catch::Contains("runs past the end"));
  CHECK_THAT(error_of(write_raw("badjson.st", "{\"a\": [", 0)), Catch::Contains("not valid JSON"));
  CHECK_THAT(error_of(write_raw("oob.st", R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8)),
             Catch::Contains("outside the 8-byte data section"));
  CHECK_THAT(error_of(write_raw("size.st", R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", 16)),
             Catch::Contains("has 16 bytes but dtype x shape needs 12"));
  CHECK_THAT(error_of(write_raw("overlap.st",
                                R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
                                    "b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                12)),
             Catch::Contains("overlap"));
  CHECK_THAT(error_of(write_raw("dtype.st", R"({"a":{"dtype":"F8_E9","shape":[1],"data_offsets":[0,1]}})", 1)),
             Catch::Contains("unsupported dtype 'F8_E9'"));
  CHECK_THAT(error_of(write_raw("neg.st", R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4)),
             Catch::Contains("non-integer or negative dimension"));
  CHECK_THAT(error_of(write_raw("fields.st", R"({"a":{"dtype":"F32"}})", 0)),
             Catch::Contains("needs dtype (string), shape (list) and data_offsets"));
  CHECK_THAT(error_of(write_raw("ovf.st",
                                R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}})", 4)),
             Catch::Contains("shape overflows"));
}

TEST_CASE("truncating a valid file at any length never reads out of bounds") {
  std::string path = tmp_path("full.safetensors");
  pt::model::save_safetensors(path, {{"w", at::ones({16, 16})}, {"b", at::zeros({16})}});
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  int errors = 0;
  for (size_t cut = 0; cut < bytes.size(); cut += 7) {
    std::string p = tmp_path("cut.safetensors");
    std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes.substr(0, cut);
    try {
      SafetensorsFile f(p);
    } catch (const pt::Error&) {
      ++errors;
    }
  }
  REQUIRE(errors == static_cast<int>((bytes.size() + 6) / 7));
}

TEST_CASE("sharded checkpoints write an index and load back") {
  auto dir = tmp_path("sharded");
  std::filesystem::remove_all(dir);
  std::vector<std::pair<std::string, at::Tensor>> t{{"x", at::rand({64, 64})}, {"y", at::rand({64, 64})},
                                                    {"z", at::rand({8})}};
  pt::model::save_sharded(dir, t, 64 * 64 * 4);
  REQUIRE(std::filesystem::exists(dir + "/model.safetensors.index.json"));
  REQUIRE(std::filesystem::exists(dir + "/model-00003-of-00003.safetensors"));
  pt::model::Checkpoint ck(dir);
  for (const auto& [n, v] : t) REQUIRE(at::equal(ck.file_of(n).view(n), v));
}
