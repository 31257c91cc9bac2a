#pragma once
// A read-only memory map of a whole file: weights and data shards are read through the page cache
// instead of being copied into the heap.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pt {

class MappedFile {
 public:
  MappedFile() = default;
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&& o) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return static_cast<const uint8_t*>(map_); }
  size_t size() const { return size_; }
  std::string_view view() const { return {static_cast<const char*>(map_), size_}; }
  // Drops the whole pages inside bytes [begin, end) from our resident set once they have been copied
  // out (neighbours' partial pages are kept): reading a large file part by part stays small in memory.
  void release(size_t begin, size_t end) const;

 private:
  void* map_ = nullptr;
  size_t size_ = 0;
};

}  // namespace pt
