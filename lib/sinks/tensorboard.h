#pragma once
// TensorBoard event files without TensorFlow or protobuf: TFRecord framing (length, masked
// CRC32C of the length, payload, masked CRC32C of the payload) around hand-encoded
// tensorflow.Event messages holding scalar summaries.
#include <cstdint>
#include <cstdio>
#include <string>

namespace pt::sinks {

uint32_t crc32c(const void* data, size_t n);
uint32_t masked_crc32c(const void* data, size_t n);

class TensorBoardWriter {
 public:
  // Creates `dir` and events.out.tfevents.<time>.<host>.<pid>.posttrain inside it.
  explicit TensorBoardWriter(const std::string& dir);
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  void add_scalar(const std::string& tag, double value, int64_t step, double wall_time = -1);
  void flush();
  const std::string& path() const { return path_; }

 private:
  void write_record(const std::string& payload);
  std::string path_;
  std::FILE* f_ = nullptr;
};

}  // namespace pt::sinks
