// TensorBoard event framing (CRC32C, TFRecord) decoded back, and the SVG plot of metrics.jsonl.
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/compressed.h"
#include "../temp_dir.h"
#include "core/error.h"
#include "sinks/plot.h"
#include "sinks/tensorboard.h"

using namespace pt;
namespace fs = std::filesystem;

namespace {
template <class T>
T take(const std::string& s, size_t& at) {
  T v;
  std::memcpy(&v, s.data() + at, sizeof(T));
  at += sizeof(T);
  return v;
}
}  // namespace

TEST_CASE("CRC32C matches the standard check value", "[sinks]") {
  CHECK(sinks::crc32c("123456789", 9) == 0xE3069283u);
}

TEST_CASE("TensorBoard records carry valid CRCs and the scalar values", "[sinks]") {
  testing::TempDir dir;
  std::string path;
  {
    sinks::TensorBoardWriter w(dir.path + "/tb");
    w.add_scalar("loss", 1.5, 3, 100.0);
    w.add_scalar("lr", 2e-4, 3, 100.0);
    path = w.path();
  }
  std::string data = read_file(path);
  size_t at = 0;
  std::vector<std::string> payloads;
  while (at < data.size()) {
    const uint32_t want_len_crc = sinks::masked_crc32c(data.data() + at, 8);
    auto len = take<uint64_t>(data, at);
    const uint32_t len_crc = take<uint32_t>(data, at);
    CHECK(len_crc == want_len_crc);
    std::string payload = data.substr(at, len);
    at += len;
    const uint32_t data_crc = take<uint32_t>(data, at);
    CHECK(data_crc == sinks::masked_crc32c(payload.data(), payload.size()));
    payloads.push_back(payload);
  }
  REQUIRE(payloads.size() == 3);
  CHECK(payloads[0].find("brain.Event:2") != std::string::npos);
  // Event{wall_time=100.0 (field 1, fixed64), step=3 (field 2), summary (field 5){value{tag, simple_value}}}
  const std::string& e = payloads[1];
  CHECK(static_cast<uint8_t>(e[0]) == 0x09);
  double wall;
  std::memcpy(&wall, e.data() + 1, 8);
  CHECK(wall == 100.0);
  CHECK(static_cast<uint8_t>(e[9]) == 0x10);
  CHECK(static_cast<uint8_t>(e[10]) == 3);
  auto tag = e.find("loss");
  REQUIRE(tag != std::string::npos);
  CHECK(static_cast<uint8_t>(e[tag + 4]) == 0x15);  // field 2, fixed32
  float v;
  std::memcpy(&v, e.data() + tag + 5, 4);
  CHECK(v == 1.5f);
}

TEST_CASE("plot renders loss and lr panels and names bad metrics lines", "[sinks]") {
  testing::TempDir dir;
  {
    std::ofstream f(dir.path + "/metrics.jsonl");
    for (int s = 1; s <= 5; ++s) f << "{\"step\":" << s << ",\"loss\":" << 3.0 / s << ",\"lr\":0.001}\n";
    f << "{\"step\":5,\"eval/loss\":0.9,\"eval/accuracy\":0.5}\n";
  }
  auto out = sinks::plot_run(dir.path);
  std::string svg = read_file(out);
  CHECK(svg.find("<svg") == 0);
  CHECK(svg.find(">loss</text>") != std::string::npos);
  CHECK(svg.find(">learning rate</text>") != std::string::npos);
  CHECK(svg.find(">eval exact-match accuracy</text>") != std::string::npos);
  CHECK(svg.find("<polyline") != std::string::npos);
  {
    std::ofstream f(dir.path + "/metrics.jsonl", std::ios::app);
    f << "{\"step\": oops}\n";
  }
  CHECK_THROWS_WITH(sinks::plot_run(dir.path), Catch::Contains("metrics.jsonl:7: malformed metrics line"));
  CHECK_THROWS_WITH(sinks::plot_run(dir.path + "/nope"), Catch::Contains("no metrics.jsonl"));
}
