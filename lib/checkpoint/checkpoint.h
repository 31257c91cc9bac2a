#pragma once
// Checkpoint directories: RUN_DIR/checkpoints/step-00000042/.
//
// Commit protocol (llm.c style): everything is written into a hidden temporary directory, every
// file and the directory are fsynced, the directory is renamed into place, and only then is DONE
// written (itself via a temporary file + rename). DONE lists every file with its size, so a
// checkpoint with a missing DONE, a missing file or a truncated file is recognised and skipped.
// A failed save (disk full, killed) leaves only a temporary directory behind; earlier checkpoints
// are never touched until a newer one is complete.
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

}  // namespace pt::ckpt
