#pragma once
// Checkpoint directories: RUN_DIR/checkpoints/step-00000042/.
//
// Commit protocol: everything is written into a hidden temporary directory together with DONE,
// which lists every file with its size; every file and the directory are fsynced; then the
// directory gets its step name in one rename (or, when a checkpoint of that step exists already,
// one atomic swap). So a step directory is complete from the instant it exists, and one with a
// missing DONE, a missing or truncated file (copied by hand, damaged later) is recognised and
// skipped. A failed save (disk full, killed) leaves only a temporary directory behind; earlier
// checkpoints, and an older copy of the same step, are never touched until the new one is complete.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace pt::ckpt {

struct Info {
  std::string dir;
  int64_t step = 0;
};

std::string checkpoints_dir(const std::string& run_dir);
std::string step_dir(const std::string& run_dir, int64_t step);  // checkpoints_dir/step-00000042

// Runs `write(tmp_dir)` and commits the result as the checkpoint of `step`; then deletes all but
// the newest `keep_last` complete checkpoints. Returns the final directory. On failure the
// temporary directory is removed and the error is rethrown with what was kept.
std::string save(const std::string& run_dir, int64_t step, const std::function<void(const std::string&)>& write,
                 int keep_last);
// The same commit of a checkpoint whose staging directory (staging_dir) already holds what every
// rank wrote into it (sharded state); `write` adds the rest.
std::string save_staged(const std::string& run_dir, int64_t step,
                        const std::function<void(const std::string&)>& write, int keep_last);
// Where ranks write their shards before the commit (known to every rank, hidden from listings).
std::string staging_dir(const std::string& run_dir, int64_t step);

// Why `dir` is not a complete checkpoint, or nullopt when it is.
std::optional<std::string> problem(const std::string& dir);

// Complete checkpoints, newest first. Incomplete ones are skipped with a warning when `warn`.
std::vector<Info> list_complete(const std::string& run_dir, bool warn = true);

// Write a file and fsync it (used for every file of a checkpoint).
void write_file_synced(const std::string& path, const std::string& content);
void fsync_path(const std::string& path);

// Gives the complete directory `staged` the name `final_dir`. An existing final_dir is swapped out
// atomically (renameat2 RENAME_EXCHANGE) and then removed, so at every instant final_dir is either
// the old or the new directory, whole. Where the file system cannot swap, the old one is set aside
// as .NAME.old-PID for the moment between two renames. Both names must be in one directory.
void publish_dir(const std::string& staged, const std::string& final_dir);

}  // namespace pt::ckpt
