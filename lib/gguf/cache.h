#pragma once
// Where converted GGUF files live ($POSTTRAIN_CACHE/gguf, else ~/.cache/posttrain/gguf), and keeping
// that cache bounded: a converted copy is float32, several times its quantized source, so copies of
// files no longer used would fill a disk. After each use the least recently used copies beyond the
// budget are removed — never the one in use, never one used in the last `grace` (another process may
// be loading it) — and so are staging directories that a killed conversion on this host left behind.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace pt::gguf {

// The file a converted copy holds once complete (written last, before the rename into place).
inline constexpr const char* kCompleteMarker = ".complete";

std::filesystem::path cache_root();
// The cache directory for `path`: its name, then a hash of where it is, its size, its mtime and the
// converter version (an edited file, or a new converter, converts again).
std::filesystem::path cache_dir_for(const std::string& path, int converter_version);
// A private staging directory beside `dir` (renamed onto it when complete): host and pid in its name,
// so a later eviction can tell a dead conversion's leftovers from a live one's.
std::filesystem::path staging_dir_for(const std::filesystem::path& dir);

// Marks a converted copy used now (its recency for eviction).
void mark_used(const std::filesystem::path& dir);

// The budget in bytes: $POSTTRAIN_GGUF_CACHE_GB (a number of GB; 0 = keep only what is in use), else 64 GB.
uint64_t cache_budget_bytes();

struct Evicted {
  std::vector<std::filesystem::path> removed;
  uint64_t freed = 0, kept = 0;  // bytes
};
// Removes from `gguf_root` (the cache's gguf/ directory) what the header says; `keep` is the copy in use.
Evicted evict(const std::filesystem::path& gguf_root, const std::filesystem::path& keep, uint64_t budget,
              std::chrono::seconds grace = std::chrono::minutes(10));

}  // namespace pt::gguf
