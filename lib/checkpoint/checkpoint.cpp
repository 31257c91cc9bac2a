#include "checkpoint/checkpoint.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/log.h"

namespace pt::ckpt {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
constexpr const char* kDone = "DONE";

std::string step_name(int64_t step) { return fmt::format("step-{:08d}", step); }

std::optional<int64_t> parse_step(const std::string& name) {
  static const std::regex re("step-([0-9]{8,})");
  std::smatch m;
  if (!std::regex_match(name, m, re)) return std::nullopt;
  return std::stoll(m[1]);
}

void fsync_tree(const fs::path& dir) {
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() || e.is_directory()) fsync_path(e.path().string());
  fsync_path(dir.string());
}
}  // namespace

std::string checkpoints_dir(const std::string& run_dir) { return (fs::path(run_dir) / "checkpoints").string(); }

std::string step_dir(const std::string& run_dir, int64_t step) {
  return (fs::path(checkpoints_dir(run_dir)) / step_name(step)).string();
}

void fsync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) fail("cannot open {} to sync it: {}", path, std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) fail("fsync {} failed: {}", path, std::strerror(err));
}

void write_file_synced(const std::string& path, const std::string& content) {
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    if (!f) fail("cannot create {}: {}", path, std::strerror(errno));
    f.write(content.data(), static_cast<std::streamsize>(content.size()));
    f.flush();
    if (!f) fail("writing {} failed (disk full?): {}", path, std::strerror(errno));
  }
  fsync_path(path);
}

void publish_dir(const std::string& staged, const std::string& final_dir) {
  const fs::path parent = fs::path(final_dir).parent_path();
  if (std::error_code ec; !fs::is_directory(staged, ec)) fail("cannot rename {} to {}: no such directory", staged, final_dir);
  fsync_tree(staged);  // the name must not outrun the data
  if (::rename(staged.c_str(), final_dir.c_str()) != 0) {
    if (errno != EEXIST && errno != ENOTEMPTY) fail("cannot rename {} to {}: {}", staged, final_dir, std::strerror(errno));
    if (::renameat2(AT_FDCWD, staged.c_str(), AT_FDCWD, final_dir.c_str(), RENAME_EXCHANGE) == 0) {
      fs::remove_all(staged);  // now the old directory
    } else {
      if (errno != EINVAL && errno != ENOSYS)
        fail("cannot swap {} into {}: {}", staged, final_dir, std::strerror(errno));
      // A file system without the atomic swap: the old directory is set aside under a hidden name
      // (still complete: list_complete names it if the two renames are interrupted).
      const fs::path old = parent / fmt::format(".{}.old-{}", fs::path(final_dir).filename().string(), ::getpid());
      fs::remove_all(old);
      fs::rename(final_dir, old);
      fs::rename(staged, final_dir);
      fs::remove_all(old);
    }
  }
  fsync_path(parent.string());
}

std::string staging_dir(const std::string& run_dir, int64_t step) {
  return (fs::path(checkpoints_dir(run_dir)) / fmt::format(".{}.staging", step_name(step))).string();
}

namespace {
std::string commit(const std::string& run_dir, int64_t step, const std::function<void(const std::string&)>& write,
                   int keep_last, const fs::path& tmp, bool fresh) {
  const fs::path root = checkpoints_dir(run_dir);
  fs::create_directories(root);
  const fs::path final_dir = step_dir(run_dir, step);
  try {
    if (fresh) {
      fs::remove_all(tmp);
      fs::create_directories(tmp);
    }
    write(tmp.string());
    json files = json::object();
    for (const auto& e : fs::recursive_directory_iterator(tmp))
      if (e.is_regular_file()) files[fs::relative(e.path(), tmp).string()] = e.file_size();
    // DONE is inside before the directory gets its name, so a step-N directory is complete from
    // the instant it exists, and a re-saved step swaps whole directories (publish_dir syncs every
    // file, DONE included, before the rename: nothing is durable under a step name before that).
    write_file_synced((tmp / kDone).string(), json{{"step", step}, {"files", files}}.dump(1) + "\n");
    publish_dir(tmp.string(), final_dir.string());
  } catch (const std::exception& e) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    auto kept = list_complete(run_dir, false);
    fail("saving checkpoint {} failed: {}\n{}", final_dir.string(), e.what(),
         kept.empty() ? std::string("no earlier complete checkpoint exists")
                      : "the newest complete checkpoint is intact: " + kept.front().dir);
  }
  auto complete = list_complete(run_dir, false);
  for (size_t i = static_cast<size_t>(std::max(keep_last, 1)); i < complete.size(); ++i) {
    log::info("removing old checkpoint {} (checkpoint.keep_last = {})", complete[i].dir, keep_last);
    // DONE goes first so an interrupted delete leaves an incomplete (skipped) directory.
    std::error_code ec;
    fs::remove(fs::path(complete[i].dir) / kDone, ec);
    fs::remove_all(complete[i].dir, ec);
  }
  return final_dir.string();
}
}  // namespace

std::string save(const std::string& run_dir, int64_t step, const std::function<void(const std::string&)>& write,
                 int keep_last) {
  const fs::path tmp = fs::path(checkpoints_dir(run_dir)) / fmt::format(".{}.tmp-{}", step_name(step), ::getpid());
  return commit(run_dir, step, write, keep_last, tmp, true);
}

std::string save_staged(const std::string& run_dir, int64_t step,
                        const std::function<void(const std::string&)>& write, int keep_last) {
  return commit(run_dir, step, write, keep_last, staging_dir(run_dir, step), false);
}

std::optional<std::string> problem(const std::string& dir) {
  const fs::path done = fs::path(dir) / kDone;
  if (!fs::exists(done)) return std::string("no DONE marker (the save did not finish)");
  json j;
  try {
    std::ifstream f(done);
    j = json::parse(f);
    for (const auto& [rel, size] : j.at("files").items()) {
      fs::path p = fs::path(dir) / rel;
      std::error_code ec;
      if (!fs::exists(p, ec)) return fmt::format("file {} is missing", rel);
      auto actual = fs::file_size(p, ec);
      if (actual != size.get<uint64_t>()) return fmt::format("file {} has {} bytes, {} were written", rel, actual, size.get<uint64_t>());
    }
  } catch (const std::exception& e) {
    return fmt::format("unreadable DONE marker: {}", e.what());
  }
  return std::nullopt;
}

std::vector<Info> list_complete(const std::string& run_dir, bool warn) {
  std::vector<Info> out;
  const fs::path root = checkpoints_dir(run_dir);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return out;
  for (const auto& e : fs::directory_iterator(root)) {
    if (!e.is_directory()) continue;
    const std::string name = e.path().filename().string();
    auto step = parse_step(name);
    if (!step) {
      static const std::regex set_aside(R"(\.(step-[0-9]{8,})\.old-[0-9]+)");
      std::smatch m;
      if (warn && std::regex_match(name, m, set_aside) && !problem(e.path().string()) && !fs::exists(root / m[1].str()))
        log::warn("{} is a complete checkpoint set aside by an interrupted replace of {}: rename it to {} to resume from it",
                  e.path().string(), m[1].str(), m[1].str());
      continue;
    }
    if (auto why = problem(e.path().string())) {
      if (warn) log::warn("skipping checkpoint {}: {}", e.path().string(), *why);
      continue;
    }
    out.push_back({e.path().string(), *step});
  }
  std::sort(out.begin(), out.end(), [](const Info& a, const Info& b) { return a.step > b.step; });
  return out;
}

}  // namespace pt::ckpt
