#include "sinks/tensorboard.h"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace pt::sinks {

namespace {
std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;  // Castagnoli, reflected
    t[i] = c;
  }
  return t;
}

// Protobuf wire format: only what tensorflow.Event with a scalar Summary needs.
void varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void key(std::string& out, int field, int wire) { varint(out, (static_cast<uint64_t>(field) << 3) | wire); }
template <class T>
void fixed(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // little-endian hosts only, like the format itself
  out.append(b, sizeof(T));
}
void bytes_field(std::string& out, int field, const std::string& v) {
  key(out, field, 2);
  varint(out, v.size());
  out += v;
}

double now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string event(double wall_time, int64_t step, const std::string* file_version, const std::string* summary) {
  std::string e;
  key(e, 1, 1);  // wall_time: double
  fixed(e, wall_time);
  key(e, 2, 0);  // step: int64
  varint(e, static_cast<uint64_t>(step));
  if (file_version) bytes_field(e, 3, *file_version);
  if (summary) bytes_field(e, 5, *summary);
  return e;
}
}  // namespace

uint32_t crc32c(const void* data, size_t n) {
  static const auto table = make_table();
  uint32_t c = 0xFFFFFFFFu;
  auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t masked_crc32c(const void* data, size_t n) {
  uint32_t c = crc32c(data, n);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

TensorBoardWriter::TensorBoardWriter(const std::string& dir) {
  std::filesystem::create_directories(dir);
  char host[256] = "localhost";
  ::gethostname(host, sizeof(host) - 1);
  path_ = fmt::format("{}/events.out.tfevents.{}.{}.{}.posttrain", dir, static_cast<int64_t>(now()), host, ::getpid());
  f_ = std::fopen(path_.c_str(), "wb");
  if (!f_) fail("cannot create TensorBoard event file {}: {}", path_, std::strerror(errno));
  const std::string version = "brain.Event:2";
  write_record(event(now(), 0, &version, nullptr));
  flush();
}

TensorBoardWriter::~TensorBoardWriter() {
  if (f_) std::fclose(f_);
}

void TensorBoardWriter::write_record(const std::string& payload) {
  std::string rec;
  fixed(rec, static_cast<uint64_t>(payload.size()));
  uint32_t len_crc = masked_crc32c(rec.data(), 8);
  fixed(rec, len_crc);
  rec += payload;
  fixed(rec, masked_crc32c(payload.data(), payload.size()));
  if (std::fwrite(rec.data(), 1, rec.size(), f_) != rec.size())
    fail("writing TensorBoard event file {} failed: {}", path_, std::strerror(errno));
}

void TensorBoardWriter::add_scalar(const std::string& tag, double value, int64_t step, double wall_time) {
  std::string v;  // Summary.Value { tag = 1; simple_value = 2 (float) }
  bytes_field(v, 1, tag);
  key(v, 2, 5);
  fixed(v, static_cast<float>(value));
  std::string summary;  // Summary { repeated Value value = 1 }
  bytes_field(summary, 1, v);
  write_record(event(wall_time < 0 ? now() : wall_time, step, nullptr, &summary));
}

void TensorBoardWriter::flush() {
  if (f_) std::fflush(f_);
}

}  // namespace pt::sinks
