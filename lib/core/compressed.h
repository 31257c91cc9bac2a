#pragma once
// Whole-file reads that transparently decompress .zst and .gz (tokenizer files, test assets). Data
// shards are streamed instead: data/compressed_shard.h.
#include <string>

namespace pt {
std::string read_file(const std::string& path);             // by extension: .zst, .gz, else raw
bool is_compressed(const std::string& path);                // the extensions read_file decompresses
std::string zstd_decompress(const std::string& data, const std::string& origin);
std::string gzip_decompress(const std::string& data, const std::string& origin);
}  // namespace pt
