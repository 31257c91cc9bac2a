// Streaming compressed shards at scale (issue: speed, point 4).
// Writes one multi-GB .jsonl.zst or .jsonl.gz shard of pre-tokenized documents (lognormal lengths,
// median ~245, mean ~400 tokens), then on one core:
//   1. opens it as a data source (the one indexing pass) and reads every record through the
//      shuffled stream and the packer: tokens/s and peak RSS;
//   2. restores a loader from the state halfway through (what a resume does): seconds to the first batch;
//   3. baseline, same run: the whole-file read the loader used before (decompress into memory), peak RSS.
//   bench_stream [gigabytes=4] [zst|gz] [baseline=1]
// The shard is kept in the temp directory and reused by a later run with the same size and format.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "core/compressed.h"
#include "core/fingerprint.h"
#include "data/loader.h"

using namespace pt;
namespace fs = std::filesystem;

namespace {
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Current and peak resident set size of this process, in MB; reset_peak() starts a new peak.
double status_mb(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0) return std::stod(line.substr(std::string(key).size())) / 1024.0;
  return -1;
}
double rss_mb() { return status_mb("VmRSS:"); }
double peak_mb() { return status_mb("VmHWM:"); }
void reset_peak() { std::ofstream("/proc/self/clear_refs") << "5"; }

void write_shard(const std::string& path, double gigabytes, bool zst) {
  const std::string cmd = zst ? "zstd -q -1 -T0 -o '" + path + "'" : "gzip -1 > '" + path + "'";
  FILE* p = popen(cmd.c_str(), "w");
  if (!p) throw std::runtime_error("cannot run " + cmd);
  const double mu = std::log(245.0), sigma = std::sqrt(2 * std::log(400.0 / 245.0));
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(mu, sigma);
  const uint64_t target = static_cast<uint64_t>(gigabytes * 1e9);
  uint64_t written = 0;
  std::string line;
  for (uint64_t i = 0; written < target; ++i) {
    const int len = std::clamp(static_cast<int>(std::lround(dist(rng))), 16, 4096);
    line = "{\"ids\":[";
    for (int k = 0; k < len; ++k) {
      line += std::to_string(rng() % 150000);
      line += k + 1 < len ? "," : "]}\n";
    }
    fwrite(line.data(), 1, line.size(), p);
    written += line.size();
  }
  if (pclose(p) != 0) throw std::runtime_error("compression failed: " + cmd);
}

data::DataOptions options(const std::string& path) {
  data::DataOptions o;
  data::SourceOptions s;
  s.path = path;
  s.format = data::Format::TokenIds;
  o.sources = {s};
  o.seq_len = 4096;
  return o;
}
data::LoaderOptions loader_options() {
  data::LoaderOptions lo;
  lo.rows_per_step = 8;
  lo.prefetch_steps = 0;  // one core: production on the calling thread
  return lo;
}
}  // namespace

int main(int argc, char** argv) {
  const double gb = argc > 1 ? std::atof(argv[1]) : 4.0;
  const bool zst = argc > 2 ? std::string(argv[2]) != "gz" : true;
  const bool baseline = argc > 3 ? std::atoi(argv[3]) != 0 : true;
  const std::string path = (fs::temp_directory_path() / ("pt-bench-stream-" + std::to_string(gb) + "GB.jsonl" +
                                                         (zst ? ".zst" : ".gz"))).string();
  if (!fs::exists(path)) {
    double t0 = now();
    write_shard(path + ".part", gb, zst);
    fs::rename(path + ".part", path);
    std::printf("wrote %s in %.0fs\n", path.c_str(), now() - t0);
  }
  std::printf("shard: %s, %.2f GB compressed\n", path.c_str(), fs::file_size(path) / 1e9);

  reset_peak();
  const double rss0 = rss_mb();
  double t0 = now();
  data::DataSet ds(options(path), nullptr, {}, 1);
  const double t_index = now() - t0;
  const auto& sh = *ds.train_sources()[0].shards;
  std::printf("index pass: %.1fs, %zu records, %zu chunks, %s; RSS %.0f MB (peak %.0f MB)\n", t_index, sh.size(),
              sh.chunks().size(), sh.fingerprint().c_str(), rss_mb(), peak_mb());
  // The index pass hashes the compressed bytes as it reads them (provenance); the same hash alone,
  // from the page cache, is the CPU it adds.
  t0 = now();
  const auto fp = fingerprint_file(path, path);
  const double t_hash = now() - t0;
  std::printf("content hash (provenance): %s = the index pass's %s; alone %.2fs = %.1f%% of the index pass\n",
              fp.hash.c_str(), sh.file_fingerprints()[0].hash.c_str(), t_hash, 100 * t_hash / t_index);

  t0 = now();
  nlohmann::json half;
  int64_t tokens = 0, steps = 0;
  {
    data::Loader l(ds, data::DocStream::Split::Train, loader_options());
    const size_t records = sh.size();
    while (auto b = l.next()) {
      for (const auto& r : b->rows) tokens += r.num_tokens;
      ++steps;
      if (half.is_null() && b->source_stats[0].records * 2 >= records) half = b->state;
    }
  }
  const double t_read = now() - t0;
  const double stream_peak = peak_mb();
  std::printf("stream: %lld tokens in %lld steps, %.1fs = %.2f M tokens/s; peak RSS %.0f MB = %.0f MB above the %.0f MB "
              "before opening\n",
              (long long)tokens, (long long)steps, t_read, tokens / t_read / 1e6, stream_peak, stream_peak - rss0, rss0);

  t0 = now();
  {
    data::Loader l(ds, data::DocStream::Split::Train, loader_options(), &half);
    l.next();
  }
  std::printf("resume from the state halfway: first batch after %.1fs\n", now() - t0);

  if (baseline) {
    reset_peak();
    t0 = now();
    const size_t bytes = read_file(path).size();
    const double base_peak = peak_mb();
    std::printf("baseline, whole-file decompression (the previous loader): %.1fs, %.2f GB of text, peak RSS %.0f MB = "
                "%.0f MB above the same start, %.1fx the streaming path's\n",
                now() - t0, bytes / 1e9, base_peak, base_peak - rss0, (base_peak - rss0) / (stream_peak - rss0));
  }
  return 0;
}
