#include "provenance/store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace pt::provenance {
namespace fs = std::filesystem;
using nlohmann::json;

void append(const std::string& dir, const json& record) {
  fs::create_directories(dir);
  const std::string path = (fs::path(dir) / kFile).string();
  const std::string line = record.dump() + "\n";
  // One write of the whole line with O_APPEND, then fsync: a kill leaves at most a cut last line.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot open {} for appending: {}", path, std::strerror(errno));
  const ssize_t n = ::write(fd, line.data(), line.size());
  ::fsync(fd);
  ::close(fd);
  if (n != static_cast<ssize_t>(line.size())) fail("cannot append to {}", path);
}

void write_all(const std::string& dir, const std::vector<json>& records) {
  const fs::path path = fs::path(dir) / kFile, tmp = fs::path(dir) / (std::string(kFile) + ".tmp");
  {
    std::ofstream out(tmp);
    for (const auto& r : records) out << r.dump() << "\n";
    if (!out) fail("cannot write {}", tmp.string());
  }
  fs::rename(tmp, path);
}

std::vector<json> read(const std::string& file) {
  std::ifstream in(file);
  if (!in) fail("cannot open {}", file);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  std::vector<json> out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    try {
      out.push_back(json::parse(lines[i]));
    } catch (const std::exception& e) {
      if (i + 1 == lines.size()) break;  // cut by a kill in mid-append
      fail("{}:{}: not a JSON provenance record: {}", file, i + 1, e.what());
    }
    if (!out.back().is_object() || out.back().value("format", "") != kFormat)
      fail("{}:{}: not a provenance record (expected \"format\": \"{}\")", file, i + 1, kFormat);
  }
  return out;
}

RunRecords load_run(const std::string& dir) {
  RunRecords r;
  r.dir = dir;
  r.run_dir = dir;
  if (!fs::is_directory(dir)) fail("'{}' is not a run or checkpoint directory", dir);
  const fs::path p = fs::path(dir).lexically_normal();
  const std::string leaf = (p.has_filename() ? p : p.parent_path()).filename().string();
  if (leaf.rfind("step-", 0) == 0 && fs::exists(p / "DONE")) {
    r.checkpoint_step = std::stoll(leaf.substr(5));
    r.run_dir = (p.has_filename() ? p : p.parent_path()).parent_path().parent_path().string();
  }
  const fs::path file = p / kFile;
  if (fs::exists(file)) r.records = read(file.string());
  return r;
}

}  // namespace pt::provenance
