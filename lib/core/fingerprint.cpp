#include "core/fingerprint.h"

#include <sys/stat.h>
#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <vector>

#include <fmt/format.h>

namespace pt {

void Crc32::update(const void* data, size_t n) {
  // crc32_z takes a size_t length (zlib >= 1.2.9), so a whole mapped file goes in one call.
  value_ = ::crc32_z(static_cast<uLong>(value_), static_cast<const Bytef*>(data), n);
  bytes_ += n;
}

std::string Crc32::hex() const { return fmt::format("crc32:{:08x}", static_cast<uint32_t>(value_)); }

void FileFingerprint::set_hash(const Crc32& crc) {
  hash = crc.hex();
  hashed_bytes = crc.bytes();
}

nlohmann::json FileFingerprint::to_json() const {
  nlohmann::json j{{"name", name}, {"path", path}, {"size", size}, {"mtime_ns", mtime_ns}};
  if (!hash.empty()) j["hash"] = hash;
  if (!hash.empty() && hashed_bytes != size) j["hashed_bytes"] = hashed_bytes;
  if (!header_hash.empty()) j["header_hash"] = header_hash;
  if (!error.empty()) j["error"] = error;
  return j;
}

FileFingerprint FileFingerprint::from_json(const nlohmann::json& j) {
  FileFingerprint f;
  f.name = j.value("name", "");
  f.path = j.value("path", "");
  f.size = j.value("size", uint64_t{0});
  f.mtime_ns = j.value("mtime_ns", int64_t{0});
  f.hash = j.value("hash", "");
  f.hashed_bytes = j.value("hashed_bytes", f.size);
  f.header_hash = j.value("header_hash", "");
  f.error = j.value("error", "");
  return f;
}

nlohmann::json InputFingerprint::to_json() const {
  nlohmann::json files_j = nlohmann::json::array();
  for (const auto& f : files) files_j.push_back(f.to_json());
  return {{"role", role}, {"path", path}, {"files", files_j}};
}

InputFingerprint InputFingerprint::from_json(const nlohmann::json& j) {
  InputFingerprint in;
  in.role = j.value("role", "");
  in.path = j.value("path", "");
  for (const auto& f : j.value("files", nlohmann::json::array())) in.files.push_back(FileFingerprint::from_json(f));
  return in;
}

FileFingerprint stat_file(const std::string& path, const std::string& name) {
  FileFingerprint f;
  f.name = name;
  f.path = path;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    f.error = std::strerror(errno);
    return f;
  }
  f.size = static_cast<uint64_t>(st.st_size);
  f.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return f;
}

FileFingerprint hashed_file(const std::string& path, const std::string& name, const Crc32& crc) {
  FileFingerprint f = stat_file(path, name);
  f.set_hash(crc);
  return f;
}

namespace {
struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

// Hashes from the current position to the end; false on a read error.
bool hash_rest(std::FILE* f, Crc32& crc) {
  std::vector<char> buf(1 << 20);
  size_t got;
  while ((got = std::fread(buf.data(), 1, buf.size(), f)) > 0) crc.update(buf.data(), got);
  return !std::ferror(f);
}
}  // namespace

FileFingerprint fingerprint_file(const std::string& path, const std::string& name) {
  FileFingerprint f = stat_file(path, name);
  if (!f.error.empty()) return f;
  std::unique_ptr<std::FILE, FileCloser> in(std::fopen(path.c_str(), "rb"));
  Crc32 crc;
  if (!in || !hash_rest(in.get(), crc)) {
    f.error = in ? "read error" : std::strerror(errno);
    return f;
  }
  f.set_hash(crc);
  return f;
}

FileFingerprint fingerprint_safetensors(const std::string& path, const std::string& name) {
  FileFingerprint f = stat_file(path, name);
  if (!f.error.empty()) return f;
  std::unique_ptr<std::FILE, FileCloser> in(std::fopen(path.c_str(), "rb"));
  if (!in) {
    f.error = std::strerror(errno);
    return f;
  }
  // [u64 little-endian header length][JSON header][tensor bytes]: the header hashed on its own,
  // then the whole file from the start (a malformed header is the loader's error to report).
  unsigned char len_bytes[8];
  if (std::fread(len_bytes, 1, 8, in.get()) == 8) {
    uint64_t len = 0;
    for (int i = 7; i >= 0; --i) len = (len << 8) | len_bytes[i];
    if (len <= f.size - 8) {
      std::string h(len, '\0');
      Crc32 header;
      if (std::fread(h.data(), 1, len, in.get()) == len) {
        header.update(h.data(), h.size());
        f.header_hash = header.hex();
      }
    }
  }
  std::rewind(in.get());
  Crc32 all;
  if (!hash_rest(in.get(), all)) {
    f.error = "read error";
    return f;
  }
  f.set_hash(all);
  return f;
}

}  // namespace pt
