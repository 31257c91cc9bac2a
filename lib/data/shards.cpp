#include "data/shards.h"

#include <glob.h>

#include <algorithm>
#include <filesystem>

#include "core/compressed.h"
#include "core/error.h"

namespace pt::data {
namespace fs = std::filesystem;

namespace {
bool is_shard_name(const std::string& name) {
  for (const char* ext : {".jsonl", ".jsonl.gz", ".jsonl.zst", ".json.gz", ".json.zst"})
    if (name.size() >= std::string(ext).size() && name.compare(name.size() - std::string(ext).size(), std::string::npos, ext) == 0)
      return true;
  return false;
}
}  // namespace

std::vector<std::string> expand_shards(const std::string& pattern, const std::string& key) {
  std::vector<std::string> out;
  std::error_code ec;
  if (fs::is_directory(pattern, ec)) {
    for (const auto& e : fs::recursive_directory_iterator(pattern))
      if (e.is_regular_file() && is_shard_name(e.path().filename().string())) out.push_back(e.path().string());
    if (out.empty()) fail("{}: directory '{}' holds no .jsonl / .jsonl.gz / .jsonl.zst shards", key, pattern);
  } else if (pattern.find_first_of("*?[") != std::string::npos) {
    glob_t g{};
    int rc = ::glob(pattern.c_str(), 0, nullptr, &g);
    for (size_t i = 0; rc == 0 && i < g.gl_pathc; ++i)
      if (fs::is_regular_file(g.gl_pathv[i])) out.emplace_back(g.gl_pathv[i]);
    globfree(&g);
    if (out.empty()) fail("{}: the glob '{}' matches no files", key, pattern);
  } else {
    if (!fs::exists(pattern, ec)) fail("{}: no such file or directory '{}'", key, pattern);
    out.push_back(pattern);
  }
  // Sorted so the record order (and so the data order for a seed) does not depend on the file system.
  std::sort(out.begin(), out.end());
  return out;
}

Shards::Shards(const std::string& pattern, const std::string& key) : files_(expand_shards(pattern, key)) {
  texts_.reserve(files_.size());
  maps_.reserve(files_.size());
  decompressed_.reserve(files_.size());
  for (uint32_t f = 0; f < files_.size(); ++f) {
    const std::string& name = files_[f];
    if (is_compressed(name)) {
      decompressed_.push_back(read_file(name));
      texts_.emplace_back(decompressed_.back());
    } else {
      maps_.emplace_back(name);
      texts_.push_back(maps_.back().view());
    }
    const std::string_view t = texts_.back();
    uint32_t line = 0;
    size_t pos = 0;
    while (pos < t.size()) {
      size_t end = t.find('\n', pos);
      if (end == std::string::npos) end = t.size();
      ++line;
      size_t len = end - pos;
      if (len && t[pos + len - 1] == '\r') --len;
      bool blank = std::all_of(t.begin() + pos, t.begin() + pos + len, [](char c) { return c == ' ' || c == '\t'; });
      if (!blank) {
        if (len > UINT32_MAX) fail("{}:{}: record longer than 4 GiB", files_[f], line);
        lines_.push_back({f, line, pos, static_cast<uint32_t>(len)});
      }
      pos = end + 1;
    }
  }
  if (lines_.empty()) fail("{}: '{}' has no records (only empty files or blank lines)", key, pattern);
}

std::string_view Shards::record(size_t i) const {
  const Line& l = lines_.at(i);
  return texts_[l.file].substr(l.offset, l.length);
}

std::string Shards::where(size_t i) const {
  const Line& l = lines_.at(i);
  return files_[l.file] + ":" + std::to_string(l.line);
}

std::string Shards::fingerprint() const {
  uint64_t total = 0;
  for (const auto& t : texts_) total += t.size();
  return std::to_string(files_.size()) + " files, " + std::to_string(total) + " bytes, " + std::to_string(lines_.size()) +
         " records";
}

}  // namespace pt::data
