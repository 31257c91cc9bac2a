// GGUF reading: what our writer writes reads back (metadata, shapes, values), and a file cut short
// anywhere, or with bytes of its header overwritten, is an error naming the file, never a crash.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>

#include "core/error.h"
#include "gguf/quant_types.h"
#include "gguf/reader.h"
#include "gguf/writer.h"
#include "../temp_dir.h"

using namespace pt;

namespace {

std::string small_file(const testing::TempDir& dir) {
  gguf::Writer w;
  w.add("general.architecture", std::string("llama"));
  w.add("llama.block_count", static_cast<uint32_t>(2));
  w.add("llama.rope.freq_base", 10000.0f);
  w.add("tokenizer.ggml.tokens", std::vector<std::string>{"a", "b", "<s>"});
  w.add("tokenizer.ggml.token_type", std::vector<int32_t>{1, 1, 3});
  at::manual_seed(0);
  w.add_tensor("a.weight", at::randn({3, 64}), gguf::TensorType::F32);
  w.add_tensor("b.weight", at::randn({2, 64}), gguf::TensorType::F16);
  w.add_tensor("c.weight", at::randn({4, 64}), gguf::TensorType::Q8_0);
  w.add_tensor("d.weight", at::randn({64}), gguf::TensorType::BF16);
  const std::string path = dir.path + "/small.gguf";
  w.write(path);
  return path;
}

std::string bytes_of(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

void write_bytes(const std::string& path, const std::string& b) { std::ofstream(path, std::ios::binary) << b; }

}  // namespace

TEST_CASE("GGUF reader reads back what the writer wrote", "[gguf]") {
  testing::TempDir dir;
  gguf::Reader r(small_file(dir));
  CHECK(r.version() == 3);
  CHECK(r.at("general.architecture") == "llama");
  CHECK(r.at("llama.block_count") == 2);
  CHECK(r.at("llama.rope.freq_base").get<double>() == 10000.0);
  CHECK(r.at("tokenizer.ggml.tokens").size() == 3);
  REQUIRE(r.tensors().size() == 4);
  const auto* c = r.find("c.weight");
  REQUIRE(c);
  CHECK(c->torch_shape() == std::vector<int64_t>{4, 64});
  CHECK(gguf::quant_type_name(c->type) == "Q8_0");
  at::manual_seed(0);
  const at::Tensor a = at::randn({3, 64}), b = at::randn({2, 64}), cv = at::randn({4, 64}), d = at::randn({64});
  auto read = [&](const char* n) {
    const auto* t = r.find(n);
    return gguf::dequantize(r.data(*t), t->type, t->numel(), n).view(t->torch_shape());
  };
  CHECK(at::equal(read("a.weight"), a));
  CHECK(at::equal(read("b.weight"), b.to(at::kHalf).to(at::kFloat)));
  CHECK(at::equal(read("d.weight"), d.to(at::kBFloat16).to(at::kFloat)));
  // Q8_0: each value within half a quantization step (max|x| / 127 / 2 per block of 32).
  const at::Tensor err = (read("c.weight") - cv).abs().view({-1, 32}).amax(1);
  const at::Tensor step = cv.abs().view({-1, 32}).amax(1) / 127;
  CHECK((err <= step * 0.5 + 1e-3 * step).all().item<bool>());
  CHECK_THROWS_AS(r.at("no.such.key"), Error);
}

TEST_CASE("GGUF reader refuses every truncation and survives corrupted headers", "[gguf]") {
  testing::TempDir dir;
  const std::string full = bytes_of(small_file(dir));
  const std::string cut = dir.path + "/cut.gguf";
  // Every prefix shorter than the file ends inside the header, the directory or the last tensor.
  for (size_t n = 0; n < full.size(); n += (n < 512 ? 1 : 7)) {
    write_bytes(cut, full.substr(0, n));
    INFO("prefix of " << n << " bytes");
    CHECK_THROWS_AS(gguf::Reader(cut), Error);
  }
  // Random bytes overwritten in the metadata and tensor directory: an error or a valid parse.
  std::mt19937 rng(5);
  for (int trial = 0; trial < 300; ++trial) {
    std::string b = full;
    for (int k = 0; k < 4; ++k) b[8 + rng() % 400] = static_cast<char>(rng());
    write_bytes(cut, b);
    try {
      gguf::Reader r(cut);
      for (const auto& t : r.tensors())
        if (gguf::quant_type(t.type).readable) gguf::dequantize(r.data(t), t.type, t.numel(), t.name);
    } catch (const Error&) {
    }
  }
  write_bytes(cut, "GGUF");
  try {
    gguf::Reader r(cut);
    FAIL("accepted a 4-byte file");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("cut.gguf") != std::string::npos);
  }
}
