#pragma once
// One .jsonl.gz / .jsonl.zst shard read as a stream. Opening it makes one decompression pass that
// keeps only an index: chunks (runs of whole lines, about `chunk_bytes` of text each) and access
// points (zstd frame starts; deflate block boundaries with their 32 KiB history, stored compressed).
// A record is read by decompressing its chunk from the nearest access point, and a few recently
// read chunks are cached, so memory stays at a few chunks whatever the size of the file.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/fingerprint.h"

namespace pt::data {

struct ChunkInfo {
  uint64_t offset = 0;        // decompressed byte offset of the chunk's first line
  uint64_t bytes = 0;         // decompressed bytes, whole lines
  uint64_t first_record = 0;  // index of its first record within the file
  uint32_t records = 0;       // non-blank lines
  uint64_t first_line = 0;    // 1-based line number of its first line
  uint32_t access = 0;        // access point it is decompressed from
  // Reachable from its access point with at most about one chunk of extra decompression; a chunk
  // deep inside a large zstd frame is only reachable by reading the frame from its start.
  bool seekable = true;
};

class CompressedShard {
 public:
  CompressedShard(const std::string& path, uint64_t chunk_bytes, size_t cached_chunks);
  ~CompressedShard();
  CompressedShard(const CompressedShard&) = delete;
  CompressedShard& operator=(const CompressedShard&) = delete;

  uint64_t records() const;
  // Size, time and the hash of the compressed bytes, taken during the indexing pass.
  const FileFingerprint& fingerprint() const;
  uint64_t decompressed_bytes() const;
  size_t access_points() const;
  const std::vector<ChunkInfo>& chunks() const;
  // Text and 1-based line number of record `r` (0-based within this file). Safe from several threads.
  std::string record(uint64_t r, uint64_t* line) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pt::data
