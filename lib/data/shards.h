#pragma once
// The records of one source: its shard files (a file, a glob or a directory; .jsonl, .jsonl.gz,
// .jsonl.zst) indexed by line, so a record is addressed by a dense index and the data state of a
// checkpoint is a few integers rather than file offsets. Plain shards are memory-mapped (the page
// cache holds them, not the heap); compressed ones are streamed through a chunk index
// (data/compressed_shard.h), so memory does not grow with their size.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/fingerprint.h"
#include "core/mapped_file.h"
#include "data/compressed_shard.h"

namespace pt::data {

// Sorted shard paths of `pattern`; an error naming `key` when nothing matches.
std::vector<std::string> expand_shards(const std::string& pattern, const std::string& key);

struct ShardOptions {
  uint64_t chunk_bytes = 16ull << 20;  // decompressed text per chunk of a compressed shard
  size_t cached_chunks = 5;           // chunks of each compressed shard kept decompressed
};

class Shards {
 public:
  Shards(const std::string& pattern, const std::string& key, const ShardOptions& opts = {});
  ~Shards();
  size_t size() const { return total_; }
  // The record's text, and with `where` its "file:line" from the same read.
  std::string record(size_t i, std::string* where = nullptr) const;
  std::string where(size_t i) const;  // "file:line"
  const std::vector<std::string>& files() const { return files_; }
  // Identity of the content, to refuse resuming over data that changed (file sizes and line count).
  std::string fingerprint() const;
  // Per file: size, time and the content hash taken while it was indexed (provenance); `name` is
  // the path as found, the caller makes it relative to what the recipe named.
  const std::vector<FileFingerprint>& file_fingerprints() const { return fingerprints_; }

  // Every record is equally cheap to read in any order (no compressed shard).
  bool random_access() const { return random_access_; }
  // Runs of consecutive records that are read together: each chunk of a compressed shard, and plain
  // files cut into chunks of about the same size. A chunk that is not `seekable` is only reached
  // cheaply by reading the chunk before it, so an order that keeps reads bounded visits it right
  // after that one.
  struct Chunk {
    uint64_t first_record;
    uint32_t records;
    bool seekable;
  };
  const std::vector<Chunk>& chunks() const { return chunks_; }

 private:
  struct Line {
    uint64_t offset;
    uint32_t length;
    uint32_t line;  // 1-based
  };
  struct File {
    uint64_t first_record = 0;
    MappedFile map;                             // plain
    std::vector<Line> lines;                    // plain
    std::unique_ptr<CompressedShard> stream;    // compressed
  };
  const File& file_of(size_t i, size_t* local) const;

  std::vector<std::string> files_;
  std::vector<File> entries_;
  std::vector<Chunk> chunks_;
  std::vector<FileFingerprint> fingerprints_;
  size_t total_ = 0;
  uint64_t bytes_ = 0;
  bool random_access_ = true;
};

}  // namespace pt::data
