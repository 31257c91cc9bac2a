#include "core/compressed.h"

#include <fstream>
#include <sstream>

#include <zlib.h>
#include <zstd.h>

#include "core/error.h"
#include "core/text.h"

namespace pt {

bool is_compressed(const std::string& path) { return ends_with(path, ".zst") || ends_with(path, ".gz"); }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open '{}'", path);
  std::stringstream ss;
  ss << in.rdbuf();
  if (ends_with(path, ".zst")) return zstd_decompress(ss.str(), path);
  if (ends_with(path, ".gz")) return gzip_decompress(ss.str(), path);
  return ss.str();
}

std::string zstd_decompress(const std::string& data, const std::string& origin) {
  ZSTD_DCtx* ctx = ZSTD_createDCtx();
  ZSTD_DCtx_setParameter(ctx, ZSTD_d_windowLogMax, 31);  // frames written with --long
  std::string out;
  std::string buf(ZSTD_DStreamOutSize(), '\0');
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  size_t ret = 1;
  while (in.pos < in.size) {
    ZSTD_outBuffer o{buf.data(), buf.size(), 0};
    ret = ZSTD_decompressStream(ctx, &o, &in);
    if (ZSTD_isError(ret)) {
      ZSTD_freeDCtx(ctx);
      fail("{}: corrupt zstd data: {}", origin, ZSTD_getErrorName(ret));
    }
    out.append(buf.data(), o.pos);
  }
  ZSTD_freeDCtx(ctx);
  if (ret != 0) fail("{}: truncated zstd data", origin);
  return out;
}

std::string gzip_decompress(const std::string& data, const std::string& origin) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) fail("{}: cannot initialise zlib", origin);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buf[1 << 16];
  int ret = Z_OK;
  do {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    ret = inflate(&zs, Z_NO_FLUSH);
    if (ret != Z_OK && ret != Z_STREAM_END) {
      inflateEnd(&zs);
      fail("{}: corrupt gzip data", origin);
    }
    out.append(buf, sizeof(buf) - zs.avail_out);
    // Concatenated gzip members (as `cat a.gz b.gz` makes) continue with a reset stream.
    if (ret == Z_STREAM_END && zs.avail_in > 0) {
      inflateReset(&zs);
      ret = Z_OK;
    }
  } while (ret != Z_STREAM_END && (zs.avail_in > 0 || zs.avail_out == 0));
  inflateEnd(&zs);
  if (ret != Z_STREAM_END) fail("{}: truncated gzip data", origin);
  return out;
}

}  // namespace pt
