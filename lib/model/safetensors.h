#pragma once
// safetensors: an 8-byte little-endian header length, a JSON header {name: {dtype, shape,
// data_offsets}}, then raw little-endian data. We mmap the file and validate the header fully
// before any tensor is touched, so a corrupted or hostile file is an error, never an OOB read.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <functional>

#include <ATen/ATen.h>

#include "core/mapped_file.h"

namespace pt::model {

struct TensorInfo {
  std::string name;
  at::ScalarType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte offsets into the data section
};

class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  const TensorInfo& info(const std::string& name) const;
  std::vector<std::string> names() const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // A zero-copy CPU view of the mapped bytes (valid while this object lives).
  at::Tensor view(const std::string& name) const;
  // Drop this tensor's mapped pages from our resident set once it has been copied out, so peak
  // host memory while loading stays near the size of the parameters, not twice that.
  void release(const std::string& name) const;
  // Rows [row_begin, row_end) of dim 0 as a zero-copy view: what a rank reads for its shard.
  at::Tensor view_rows(const std::string& name, int64_t row_begin, int64_t row_end) const;

  // Parse and validate a header from memory (exposed for the fuzzer and tests).
  static std::vector<TensorInfo> parse_header(const uint8_t* data, size_t size, const std::string& origin,
                                              std::map<std::string, std::string>* metadata = nullptr,
                                              uint64_t* data_start = nullptr);

 private:
  std::string path_;
  MappedFile file_;
  uint64_t data_start_ = 0;
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// A checkpoint directory: model.safetensors, or shards listed by model.safetensors.index.json.
class Checkpoint {
 public:
  explicit Checkpoint(const std::string& dir, const std::string& stem = "model");
  bool contains(const std::string& name) const { return where_.count(name) != 0; }
  const SafetensorsFile& file_of(const std::string& name) const;
  std::vector<std::string> names() const;

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, size_t> where_;
};

// Writes tensors (converted to `dtype` unless Undefined) into one file. Data is streamed tensor by
// tensor; the file is written to path + ".tmp" and renamed only when complete.
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

// The same with tensor i made by `make(i)` only when its turn comes (a converter then holds one tensor at
// a time, not the model); each must have its spec's dtype and shape.
struct TensorSpec {
  std::string name;
  at::ScalarType dtype;
  std::vector<int64_t> shape;
};
void save_safetensors_streamed(const std::string& path, const std::vector<TensorSpec>& specs,
                               const std::function<at::Tensor(size_t)>& make,
                               const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

// Sharded above `max_shard_bytes` (HF naming model-00001-of-00003.safetensors + index.json).
void save_sharded(const std::string& dir, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                  uint64_t max_shard_bytes, const std::string& stem = "model");

const char* safetensors_dtype_name(at::ScalarType t);

}  // namespace pt::model
