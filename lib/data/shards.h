#pragma once
// The records of one source: its shard files (a file, a glob or a directory; .jsonl, .jsonl.gz,
// .jsonl.zst) mapped or decompressed once and indexed by line, so a record is addressed by a dense index and
// the data state of a checkpoint is a few integers rather than file offsets.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/mapped_file.h"

namespace pt::data {

// Sorted shard paths of `pattern`; an error naming `key` when nothing matches.
std::vector<std::string> expand_shards(const std::string& pattern, const std::string& key);

class Shards {
 public:
  Shards(const std::string& pattern, const std::string& key);
  size_t size() const { return lines_.size(); }
  std::string_view record(size_t i) const;
  std::string where(size_t i) const;  // "file:line"
  const std::vector<std::string>& files() const { return files_; }
  // Identity of the content, to refuse resuming over data that changed (file sizes and line count).
  std::string fingerprint() const;

 private:
  struct Line {
    uint32_t file;
    uint32_t line;  // 1-based
    uint64_t offset;
    uint32_t length;
  };
  std::vector<std::string> files_;
  // Plain shards are memory-mapped (the page cache holds them, not the heap); compressed ones are
  // decompressed once into memory.
  std::vector<MappedFile> maps_;
  std::vector<std::string> decompressed_;
  std::vector<std::string_view> texts_;
  std::vector<Line> lines_;
};

}  // namespace pt::data
