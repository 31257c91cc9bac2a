#include "data/shards.h"

#include <glob.h>

#include <algorithm>
#include <filesystem>

#include "core/compressed.h"
#include "core/error.h"
#include "core/fingerprint.h"
#include "core/text.h"
#include "data/lines.h"

namespace pt::data {
namespace fs = std::filesystem;

namespace {
bool is_shard_name(const std::string& name) {
  for (const char* ext : {".jsonl", ".jsonl.gz", ".jsonl.zst", ".json.gz", ".json.zst"})
    if (ends_with(name, ext)) return true;
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

Shards::Shards(const std::string& pattern, const std::string& key, const ShardOptions& opts)
    : files_(expand_shards(pattern, key)) {
  entries_.resize(files_.size());
  for (size_t f = 0; f < files_.size(); ++f) {
    const std::string& name = files_[f];
    File& e = entries_[f];
    e.first_record = total_;
    if (is_compressed(name)) {
      random_access_ = false;
      e.stream = std::make_unique<CompressedShard>(name, opts.chunk_bytes, opts.cached_chunks);
      for (const auto& c : e.stream->chunks()) chunks_.push_back({total_ + c.first_record, c.records, c.seekable});
      total_ += e.stream->records();
      bytes_ += e.stream->decompressed_bytes();
      fingerprints_.push_back(e.stream->fingerprint());
      continue;
    }
    e.map = MappedFile(name);
    const std::string_view t = e.map.view();
    uint32_t line = 0;
    uint64_t chunk_start = 0, hashed = 0;
    size_t chunk_first = 0;
    // The content hash follows the indexing pass a few MiB behind it, while the pages are resident.
    Crc32 crc;
    auto hash_to = [&](uint64_t upto) {
      crc.update(t.data() + hashed, upto - hashed);
      hashed = upto;
    };
    for_each_line(t, [&](size_t pos, size_t len, size_t end, bool blank) {
      if (end - hashed >= (4u << 20)) hash_to(std::min<uint64_t>(end, t.size()));
      ++line;
      if (!blank) {
        if (len > UINT32_MAX) fail("{}:{}: record longer than 4 GiB", name, line);
        e.lines.push_back({pos, static_cast<uint32_t>(len), line});
      }
      if (end + 1 - chunk_start >= opts.chunk_bytes || end >= t.size() - 1) {
        if (e.lines.size() > chunk_first)
          chunks_.push_back({total_ + chunk_first, static_cast<uint32_t>(e.lines.size() - chunk_first), true});
        chunk_first = e.lines.size();
        chunk_start = end + 1;
      }
    });
    hash_to(t.size());
    fingerprints_.push_back(hashed_file(name, name, crc));
    total_ += e.lines.size();
    bytes_ += t.size();
  }
  if (total_ == 0) fail("{}: '{}' has no records (only empty files or blank lines)", key, pattern);
}

Shards::~Shards() = default;

const Shards::File& Shards::file_of(size_t i, size_t* local) const {
  if (i >= total_) fail("record {} out of range ({} records)", i, total_);
  auto it = std::upper_bound(entries_.begin(), entries_.end(), i,
                             [](size_t x, const File& f) { return x < f.first_record; });
  const File& f = *(it - 1);
  *local = i - f.first_record;
  return f;
}

std::string Shards::record(size_t i, std::string* where) const {
  size_t r;
  const File& f = file_of(i, &r);
  uint64_t line = 0;
  std::string text;
  if (f.stream) {
    text = f.stream->record(r, &line);
  } else {
    const Line& l = f.lines[r];
    text = std::string(f.map.view().substr(l.offset, l.length));
    line = l.line;
  }
  if (where) *where = files_[static_cast<size_t>(&f - entries_.data())] + ":" + std::to_string(line);
  return text;
}

std::string Shards::where(size_t i) const {
  std::string w;
  record(i, &w);
  return w;
}

std::string Shards::fingerprint() const {
  return std::to_string(files_.size()) + " files, " + std::to_string(bytes_) + " bytes, " + std::to_string(total_) +
         " records";
}

}  // namespace pt::data
