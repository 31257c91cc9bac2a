#pragma once
// Reading a GGUF file (v2 or v3): the key/value metadata and the tensor directory are parsed and
// bounds-checked up front from a memory map, so a truncated or corrupt file is an error naming the
// file, the field and the offset, never an out-of-bounds read. Tensor data stays in the map.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/mapped_file.h"

namespace pt::gguf {

struct TensorEntry {
  std::string name;
  uint32_t type = 0;          // ggml type id
  std::vector<int64_t> dims;  // ggml order: dims[0] is the innermost (a torch shape reversed)
  uint64_t offset = 0;        // from the start of the data section
  uint64_t bytes = 0;
  int64_t numel() const;
  std::vector<int64_t> torch_shape() const { return {dims.rbegin(), dims.rend()}; }
};

class Reader {
 public:
  explicit Reader(const std::string& path);
  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }

  bool has(const std::string& key) const { return meta_.count(key) != 0; }
  // The value of `key` (numbers, bools, strings, arrays as JSON); fails naming the file and key
  // when it is missing.
  const nlohmann::json& at(const std::string& key) const;
  const std::map<std::string, nlohmann::json>& metadata() const { return meta_; }

  const std::vector<TensorEntry>& tensors() const { return tensors_; }
  const TensorEntry* find(const std::string& name) const;
  const uint8_t* data(const TensorEntry& t) const { return file_.data() + data_start_ + t.offset; }
  // Drops this tensor's mapped pages from the resident set once it has been read (MappedFile::release).
  void release(const TensorEntry& t) const;

 private:
  void parse(const uint8_t* p, size_t size);

  std::string path_;
  MappedFile file_;
  uint32_t version_ = 0;
  uint64_t data_start_ = 0;
  std::map<std::string, nlohmann::json> meta_;
  std::vector<TensorEntry> tensors_;
};

}  // namespace pt::gguf
