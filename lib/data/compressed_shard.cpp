#include "data/compressed_shard.h"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <list>
#include <mutex>

#include "core/error.h"
#include "core/fingerprint.h"
#include "core/text.h"
#include "data/lines.h"

namespace pt::data {
namespace {

constexpr size_t kWindow = 32768;  // deflate's history
constexpr size_t kInBuf = 1 << 17;

// Where decompression can start. zstd: a frame start. gzip: a deflate block boundary, which may fall
// inside a byte (`bits` of the byte before `in` belong to the block), plus the history the block's
// back-references read, kept zlib-compressed (a text window shrinks 3-4x).
struct AccessPoint {
  uint64_t in = 0, out = 0;
  int bits = 0;
  uint32_t window_size = 0;
  std::string window;
};

class InputFile {
 public:
  explicit InputFile(const std::string& path) : path_(path), f_(std::fopen(path.c_str(), "rb")) {
    if (!f_) fail("cannot open '{}'", path);
  }
  ~InputFile() { std::fclose(f_); }
  void seek(uint64_t off) {
    if (fseeko(f_, static_cast<off_t>(off), SEEK_SET) != 0) fail("{}: cannot seek to byte {}", path_, off);
  }
  size_t read(unsigned char* buf, size_t n) {
    size_t got = std::fread(buf, 1, n, f_);
    if (got < n && std::ferror(f_)) fail("{}: read error", path_);
    if (hashing_) crc_.update(buf, got);
    return got;
  }
  // The indexing pass reads the file once from its start: its bytes are hashed as they go by, and
  // whatever it did not need (bytes after the last frame) once it is done.
  void start_hashing() { hashing_ = true; }
  FileFingerprint finish_hashing() {
    unsigned char buf[1 << 16];
    while (read(buf, sizeof buf) > 0) {
    }
    hashing_ = false;
    return hashed_file(path_, path_, crc_);
  }
  bool at_eof() {
    int c = std::getc(f_);
    if (c == EOF) return true;
    std::ungetc(c, f_);
    return false;
  }

 private:
  std::string path_;
  std::FILE* f_;
  bool hashing_ = false;
  Crc32 crc_;
};

// Builds the chunk list from the decompressed text as it streams past, holding only the current
// partial line.
class ChunkIndexer {
 public:
  ChunkIndexer(uint64_t chunk_bytes, std::vector<ChunkInfo>& chunks) : chunk_bytes_(chunk_bytes), chunks_(chunks) {}
  void feed(const char* p, size_t n) {
    carry_.append(p, n);
    const size_t last_nl = carry_.rfind('\n');
    if (last_nl == std::string::npos) return;
    lines(std::string_view(carry_).substr(0, last_nl + 1));
    base_ += last_nl + 1;
    carry_.erase(0, last_nl + 1);
  }
  void finish() {
    lines(carry_);
    base_ += carry_.size();
    carry_.clear();
    close(base_);
  }
  uint64_t records() const { return records_; }
  uint64_t bytes() const { return base_; }

 private:
  void lines(std::string_view text) {
    for_each_line(text, [&](size_t, size_t, size_t end, bool blank) {
      ++line_;
      if (!blank) {
        ++cur_.records;
        ++records_;
      }
      const uint64_t after = base_ + std::min(end + 1, text.size());
      if (after - cur_.offset >= chunk_bytes_) close(after);
    });
  }
  void close(uint64_t at) {
    cur_.bytes = at - cur_.offset;
    if (cur_.records > 0) chunks_.push_back(cur_);
    cur_ = ChunkInfo{};
    cur_.offset = at;
    cur_.first_record = records_;
    cur_.first_line = line_ + 1;
  }

  uint64_t chunk_bytes_;
  std::vector<ChunkInfo>& chunks_;
  std::string carry_;
  uint64_t base_ = 0, line_ = 0, records_ = 0;
  ChunkInfo cur_{0, 0, 0, 0, 1, 0, true};
};

struct Record {
  uint32_t offset, length;
  uint64_t line;
};
struct Loaded {
  size_t chunk;
  std::string text;
  std::vector<Record> records;
};

}  // namespace

struct CompressedShard::Impl {
  std::string path;
  bool zstd;
  uint64_t chunk_bytes;
  size_t capacity;
  std::vector<ChunkInfo> chunks;
  std::vector<AccessPoint> points;
  uint64_t records = 0, bytes = 0;
  FileFingerprint fingerprint;

  std::mutex mu;
  InputFile file;
  std::vector<unsigned char> inbuf = std::vector<unsigned char>(kInBuf);
  bool active = false;  // a decoder is positioned at `pos`
  uint64_t pos = 0;
  ZSTD_DCtx* zctx = nullptr;
  ZSTD_inBuffer zin{nullptr, 0, 0};
  z_stream zs{};
  bool zs_open = false;
  std::list<Loaded> cache;  // most recent first

  Impl(const std::string& p, uint64_t cb, size_t cap)
      : path(p), zstd(ends_with(p, ".zst")), chunk_bytes(cb), capacity(std::max<size_t>(cap, 1)), file(p) {
    if (!zstd && !ends_with(p, ".gz")) fail("{}: not a .gz or .zst file", p);
    ChunkIndexer ix(chunk_bytes, chunks);
    file.start_hashing();
    zstd ? index_zstd(ix) : index_gzip(ix);
    ix.finish();
    fingerprint = file.finish_hashing();
    records = ix.records();
    bytes = ix.bytes();
    for (auto& c : chunks) {
      auto it = std::upper_bound(points.begin(), points.end(), c.offset,
                                 [](uint64_t off, const AccessPoint& a) { return off < a.out; });
      c.access = static_cast<uint32_t>(it - points.begin() - 1);
      c.seekable = c.offset - points[c.access].out <= chunk_bytes;
    }
  }
  ~Impl() {
    if (zctx) ZSTD_freeDCtx(zctx);
    if (zs_open) inflateEnd(&zs);
  }

  [[noreturn]] void truncated() const {
    fail("{}: unexpected end of {} data (a truncated file, or changed since it was opened?)", path, zstd ? "zstd" : "gzip");
  }

  void index_zstd(ChunkIndexer& ix) {
    ZSTD_DCtx* ctx = ZSTD_createDCtx();
    ZSTD_DCtx_setParameter(ctx, ZSTD_d_windowLogMax, 31);  // frames written with --long
    std::vector<char> out(ZSTD_DStreamOutSize());
    points.push_back({});
    uint64_t in_base = 0, out_total = 0;
    ZSTD_inBuffer in{inbuf.data(), 0, 0};
    bool eof = false, mid_frame = false;
    for (;;) {
      if (in.pos == in.size && !eof) {
        in_base += in.size;
        in.size = file.read(inbuf.data(), kInBuf);
        in.pos = 0;
        eof = in.size == 0;
      }
      ZSTD_outBuffer o{out.data(), out.size(), 0};
      const size_t before = in.pos;
      const size_t r = ZSTD_decompressStream(ctx, &o, &in);
      if (ZSTD_isError(r)) {
        ZSTD_freeDCtx(ctx);
        fail("{}: corrupt zstd data near compressed byte {}: {}", path, in_base + in.pos, ZSTD_getErrorName(r));
      }
      ix.feed(out.data(), o.pos);
      out_total += o.pos;
      if (r == 0) {
        mid_frame = false;
        if (out_total > points.back().out) points.push_back({in_base + in.pos, out_total, 0, 0, {}});
      } else if (in.pos > before || o.pos > 0) {
        mid_frame = true;
      }
      if (eof && o.pos < o.size) break;
    }
    ZSTD_freeDCtx(ctx);
    if (mid_frame) truncated();
    if (points.size() > 1 && points.back().out == out_total) points.pop_back();  // the end of the file
  }

  void index_gzip(ChunkIndexer& ix) {
    z_stream s{};
    if (inflateInit2(&s, 31) != Z_OK) fail("{}: cannot initialise zlib", path);
    std::vector<unsigned char> win(kWindow);
    uint64_t totin = 0, totout = 0, last = 0;
    int ret = Z_OK;
    // Access points every half chunk: a chunk is then reached with at most that much decoded in vain.
    const uint64_t span = std::max<uint64_t>(chunk_bytes / 2, 1);
    do {
      if (s.avail_in == 0) {
        s.avail_in = static_cast<uInt>(file.read(inbuf.data(), kInBuf));
        if (s.avail_in == 0) {
          inflateEnd(&s);
          truncated();
        }
        s.next_in = inbuf.data();
      }
      if (s.avail_out == 0) {
        s.avail_out = kWindow;
        s.next_out = win.data();
      }
      unsigned char* before = s.next_out;
      totin += s.avail_in;
      totout += s.avail_out;
      ret = inflate(&s, Z_BLOCK);
      totin -= s.avail_in;
      totout -= s.avail_out;
      ix.feed(reinterpret_cast<const char*>(before), static_cast<size_t>(s.next_out - before));
      if (ret == Z_NEED_DICT || ret == Z_DATA_ERROR || ret == Z_MEM_ERROR || ret == Z_STREAM_ERROR) {
        std::string msg = s.msg ? s.msg : "invalid data";
        inflateEnd(&s);
        fail("{}: corrupt gzip data near compressed byte {}: {}", path, totin, msg);
      }
      if (ret == Z_STREAM_END && (s.avail_in > 0 || !file.at_eof())) {
        // Concatenated members (as `cat a.gz b.gz` makes): the next one starts with its own header.
        inflateReset2(&s, 31);
        ret = Z_OK;
        continue;
      }
      const bool block_end = (s.data_type & 128) && !(s.data_type & 64);
      if (block_end && (points.empty() || totout - last >= span)) {
        AccessPoint ap;
        ap.in = totin;
        ap.out = totout;
        ap.bits = s.data_type & 7;
        std::vector<unsigned char> ordered(kWindow);
        if (s.avail_out) std::memcpy(ordered.data(), win.data() + kWindow - s.avail_out, s.avail_out);
        if (s.avail_out < kWindow) std::memcpy(ordered.data() + s.avail_out, win.data(), kWindow - s.avail_out);
        ap.window_size = static_cast<uint32_t>(std::min<uint64_t>(totout, kWindow));
        uLongf packed = compressBound(ap.window_size);
        ap.window.resize(packed);
        compress2(reinterpret_cast<Bytef*>(ap.window.data()), &packed, ordered.data() + kWindow - ap.window_size,
                  ap.window_size, 1);
        ap.window.resize(packed);
        ap.window.shrink_to_fit();
        points.push_back(std::move(ap));
        last = totout;
      }
    } while (ret != Z_STREAM_END);
    inflateEnd(&s);
  }

  void seek(const AccessPoint& ap) {
    active = false;
    if (zstd) {
      if (!zctx) {
        zctx = ZSTD_createDCtx();
        ZSTD_DCtx_setParameter(zctx, ZSTD_d_windowLogMax, 31);
      }
      ZSTD_DCtx_reset(zctx, ZSTD_reset_session_only);
      file.seek(ap.in);
      zin = {inbuf.data(), 0, 0};
    } else {
      if (zs_open) inflateEnd(&zs);
      zs = z_stream{};
      if (inflateInit2(&zs, -15) != Z_OK) fail("{}: cannot initialise zlib", path);
      zs_open = true;
      file.seek(ap.in - (ap.bits ? 1 : 0));
      if (ap.bits) {
        unsigned char c;
        if (file.read(&c, 1) != 1) truncated();
        inflatePrime(&zs, ap.bits, c >> (8 - ap.bits));
      }
      if (ap.window_size) {
        std::vector<unsigned char> w(ap.window_size);
        uLongf n = ap.window_size;
        if (uncompress(w.data(), &n, reinterpret_cast<const Bytef*>(ap.window.data()), ap.window.size()) != Z_OK ||
            n != ap.window_size)
          fail("{}: internal error restoring a deflate window", path);
        inflateSetDictionary(&zs, w.data(), ap.window_size);
      }
      zs.avail_in = 0;
    }
    pos = ap.out;
    active = true;
  }

  // Decodes at least one byte into dst (at most cap) from the current position.
  size_t decode(char* dst, size_t cap) {
    if (zstd) {
      for (;;) {
        if (zin.pos == zin.size) {
          zin.size = file.read(inbuf.data(), kInBuf);
          zin.pos = 0;
          if (zin.size == 0) truncated();
        }
        ZSTD_outBuffer o{dst, cap, 0};
        const size_t r = ZSTD_decompressStream(zctx, &o, &zin);
        if (ZSTD_isError(r)) fail("{}: corrupt zstd data: {}", path, ZSTD_getErrorName(r));
        if (o.pos) return o.pos;
      }
    }
    for (;;) {
      if (zs.avail_in == 0) refill();
      zs.next_out = reinterpret_cast<Bytef*>(dst);
      zs.avail_out = static_cast<uInt>(cap);
      const int ret = inflate(&zs, Z_NO_FLUSH);
      if (ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR)
        fail("{}: corrupt gzip data: {}", path, zs.msg ? zs.msg : "invalid data");
      const size_t got = cap - zs.avail_out;
      if (ret == Z_STREAM_END) next_member();
      if (got) return got;
    }
  }
  void refill() {
    zs.avail_in = static_cast<uInt>(file.read(inbuf.data(), kInBuf));
    zs.next_in = inbuf.data();
    if (zs.avail_in == 0) truncated();
  }
  // Raw inflate stops at the end of a member: step over its 8-byte trailer and the next header.
  void next_member() {
    for (int drop = 8; drop > 0;) {
      if (zs.avail_in == 0) refill();
      const int d = std::min<int>(drop, static_cast<int>(zs.avail_in));
      zs.next_in += d;
      zs.avail_in -= d;
      drop -= d;
    }
    if (zs.avail_in == 0 && file.at_eof()) return;  // reading on would report truncation
    inflateReset2(&zs, 31);
    do {
      if (zs.avail_in == 0) refill();
      zs.avail_out = 0;
      const int ret = inflate(&zs, Z_BLOCK);
      if (ret != Z_OK && ret != Z_BUF_ERROR) fail("{}: corrupt gzip member header", path);
    } while ((zs.data_type & 128) == 0);
    inflateReset2(&zs, -15);
  }

  void advance(uint64_t target, std::string* into) {
    char scratch[1 << 16];
    while (pos < target) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(target - pos, sizeof scratch));
      const size_t got = decode(scratch, want);
      if (into) into->append(scratch, got);
      pos += got;
    }
  }

  Loaded read_chunk(size_t c) {
    const ChunkInfo& ch = chunks[c];
    advance(ch.offset, nullptr);
    Loaded l{c, {}, {}};
    l.text.reserve(ch.bytes);
    advance(ch.offset + ch.bytes, &l.text);
    uint64_t line = ch.first_line;
    for_each_line(l.text, [&](size_t off, size_t len, size_t, bool blank) {
      if (!blank) {
        if (len > UINT32_MAX) fail("{}:{}: record longer than 4 GiB", path, line);
        l.records.push_back({static_cast<uint32_t>(off), static_cast<uint32_t>(len), line});
      }
      ++line;
    });
    if (l.records.size() != ch.records) fail("{}: changed since it was opened (chunk {} holds other lines)", path, c);
    return l;
  }

  const Loaded& load(size_t c) {
    for (auto it = cache.begin(); it != cache.end(); ++it)
      if (it->chunk == c) {
        cache.splice(cache.begin(), cache, it);
        return cache.front();
      }
    const ChunkInfo& ch = chunks[c];
    const bool near = active && pos <= ch.offset && ch.offset - pos <= chunk_bytes;
    if (!near) {
      const AccessPoint& ap = points[ch.access];
      // Moving on from where the decoder is beats restarting the access point's frame.
      if (!(active && pos >= ap.out && pos <= ch.offset)) seek(ap);
      // Chunks decoded on the way that the cache can hold are kept: restoring a checkpoint reads the
      // last few chunks in any order, which inside one large zstd frame would otherwise restart it each time.
      auto first = std::lower_bound(chunks.begin(), chunks.end(), pos,
                                    [](const ChunkInfo& a, uint64_t off) { return a.offset < off; });
      for (size_t k = static_cast<size_t>(first - chunks.begin()); k < c; ++k) {
        if (k + capacity > c) {
          put(read_chunk(k));
        } else {
          advance(chunks[k].offset + chunks[k].bytes, nullptr);
        }
      }
    }
    return put(read_chunk(c));
  }
  const Loaded& put(Loaded l) {
    cache.push_front(std::move(l));
    while (cache.size() > capacity) cache.pop_back();
    return cache.front();
  }
};

CompressedShard::CompressedShard(const std::string& path, uint64_t chunk_bytes, size_t cached_chunks)
    : impl_(std::make_unique<Impl>(path, std::max<uint64_t>(chunk_bytes, 1), cached_chunks)) {}
CompressedShard::~CompressedShard() = default;

uint64_t CompressedShard::records() const { return impl_->records; }
const FileFingerprint& CompressedShard::fingerprint() const { return impl_->fingerprint; }
uint64_t CompressedShard::decompressed_bytes() const { return impl_->bytes; }
size_t CompressedShard::access_points() const { return impl_->points.size(); }
const std::vector<ChunkInfo>& CompressedShard::chunks() const { return impl_->chunks; }

std::string CompressedShard::record(uint64_t r, uint64_t* line) const {
  const auto& chunks = impl_->chunks;
  if (r >= impl_->records) fail("{}: record {} out of range ({} records)", impl_->path, r, impl_->records);
  auto it = std::upper_bound(chunks.begin(), chunks.end(), r,
                             [](uint64_t x, const ChunkInfo& c) { return x < c.first_record; });
  const size_t c = static_cast<size_t>(it - chunks.begin() - 1);
  std::lock_guard<std::mutex> lock(impl_->mu);
  const Loaded& l = impl_->load(c);
  const Record& rec = l.records.at(r - chunks[c].first_record);
  if (line) *line = rec.line;
  return l.text.substr(rec.offset, rec.length);
}

}  // namespace pt::data
