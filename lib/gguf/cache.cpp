#include "gguf/cache.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <random>

#include <fmt/format.h>

#include "core/hash.h"
#include "core/log.h"

namespace pt::gguf {
namespace fs = std::filesystem;

namespace {
constexpr const char* kUsed = ".last_used";

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "host";
  std::string h(buf);
  std::replace(h.begin(), h.end(), '-', '_');  // '-' separates the staging name's fields
  return h;
}

uint64_t dir_bytes(const fs::path& d) {
  uint64_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(d, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    if (it->is_regular_file(ec)) n += it->file_size(ec);
  return n;
}

fs::file_time_type last_used(const fs::path& d) {
  std::error_code ec;
  for (const char* marker : {kUsed, kCompleteMarker})
    if (auto t = fs::last_write_time(d / marker, ec); !ec) return t;
  return fs::last_write_time(d, ec);
}

// A staging directory "NAME.tmp-HOST-PID-RANDOM" of a process on this host that no longer runs.
bool dead_staging(const std::string& name) {
  const auto at = name.find(".tmp-");
  if (at == std::string::npos) return false;
  const std::string rest = name.substr(at + 5);
  const auto a = rest.find('-'), b = rest.find('-', a == std::string::npos ? a : a + 1);
  if (a == std::string::npos || b == std::string::npos || rest.substr(0, a) != host_name()) return false;
  const long pid = std::strtol(rest.substr(a + 1, b - a - 1).c_str(), nullptr, 10);
  return pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}
}  // namespace

fs::path cache_root() {
  if (const char* c = std::getenv("POSTTRAIN_CACHE"); c && *c) return c;
  if (const char* h = std::getenv("HOME"); h && *h) return fs::path(h) / ".cache" / "posttrain";
  return fs::temp_directory_path() / "posttrain-cache";
}

fs::path cache_dir_for(const std::string& path, int converter_version) {
  const fs::path abs = fs::absolute(path);
  const auto mtime = fs::last_write_time(abs).time_since_epoch().count();
  const std::string key = fmt::format("{}|{}|{}|v{}", abs.string(), fs::file_size(abs), mtime, converter_version);
  return cache_root() / "gguf" / fmt::format("{}-{:016x}", abs.stem().string(), fnv1a64(key));
}

fs::path staging_dir_for(const fs::path& dir) {
  return dir.string() + fmt::format(".tmp-{}-{}-{}", host_name(), ::getpid(), std::random_device{}());
}

void mark_used(const fs::path& dir) {
  std::ofstream(dir / kUsed, std::ios::trunc) << "\n";  // rewriting it sets its mtime: now
}

uint64_t cache_budget_bytes() {
  if (const char* v = std::getenv("POSTTRAIN_GGUF_CACHE_GB"); v && *v) {
    char* end = nullptr;
    const double gb = std::strtod(v, &end);
    if (end != v && gb >= 0) return static_cast<uint64_t>(gb * 1e9);
    log::warn("POSTTRAIN_GGUF_CACHE_GB='{}' is not a number of GB: using 64", v);
  }
  return 64ull * 1000 * 1000 * 1000;
}

Evicted evict(const fs::path& gguf_root, const fs::path& keep, uint64_t budget, std::chrono::seconds grace) {
  Evicted out;
  struct Entry {
    fs::path dir;
    fs::file_time_type used;
    uint64_t bytes;
  };
  std::vector<Entry> entries;
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  for (const auto& e : fs::directory_iterator(gguf_root, ec)) {
    if (!e.is_directory(ec)) continue;
    const std::string name = e.path().filename().string();
    if (dead_staging(name)) {
      out.freed += dir_bytes(e.path());
      fs::remove_all(e.path(), ec);
      out.removed.push_back(e.path());
      continue;
    }
    if (name.find(".tmp-") != std::string::npos || !fs::exists(e.path() / kCompleteMarker)) continue;  // in progress
    entries.push_back({e.path(), last_used(e.path()), dir_bytes(e.path())});
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.used > b.used; });
  for (const auto& e : entries) {
    const bool protected_now = fs::equivalent(e.dir, keep, ec) || now - e.used < grace;
    if (protected_now || out.kept + e.bytes <= budget) {
      out.kept += e.bytes;
      continue;
    }
    fs::remove_all(e.dir, ec);
    if (ec) continue;  // another process removed or holds it: leave it
    out.freed += e.bytes;
    out.removed.push_back(e.dir);
  }
  return out;
}

}  // namespace pt::gguf
