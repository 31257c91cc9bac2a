#pragma once
// Content fingerprints of a run's inputs (provenance). The hash is zlib's CRC-32, fed with the bytes
// as they are read anyway (a data shard while it is indexed), so fingerprinting costs no extra pass
// over the data: it detects a changed file, it is not a cryptographic digest.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pt {

class Crc32 {
 public:
  void update(const void* data, size_t n);
  uint64_t bytes() const { return bytes_; }
  std::string hex() const;  // "crc32:1a2b3c4d"

 private:
  uint64_t value_ = 0;
  uint64_t bytes_ = 0;
};

struct FileFingerprint {
  std::string name;          // key within its input: path relative to the input's directory
  std::string path;          // as opened
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  std::string hash;          // of the first `hashed_bytes` bytes ("" when not hashed)
  uint64_t hashed_bytes = 0;
  std::string header_hash;   // safetensors: of the JSON header alone (names, dtypes, shapes)
  std::string error;         // why it could not be read ("" when it could)
  void set_hash(const Crc32& crc);  // hash and hashed_bytes from what `crc` was fed
  nlohmann::json to_json() const;
  static FileFingerprint from_json(const nlohmann::json& j);
};

// One input of a run: a recipe key (the role) and the files it resolved to.
struct InputFingerprint {
  std::string role;  // "data.sources[0].path", "model.path", "algorithm.grpo.rewards[1].command"
  std::string path;  // the value the recipe gave
  std::vector<FileFingerprint> files;
  nlohmann::json to_json() const;
  static InputFingerprint from_json(const nlohmann::json& j);
};

// Size and modification time only (no read).
FileFingerprint stat_file(const std::string& path, const std::string& name);
// Size and time now, with the hash `crc` took of its bytes as they were read.
FileFingerprint hashed_file(const std::string& path, const std::string& name, const Crc32& crc);
// Size, time and the hash of the whole file, read in 1 MiB blocks.
FileFingerprint fingerprint_file(const std::string& path, const std::string& name);
// A safetensors file: its header hashed apart, then the whole file.
FileFingerprint fingerprint_safetensors(const std::string& path, const std::string& name);

}  // namespace pt
