#pragma once
// provenance.jsonl: one JSON record per segment of a run (its start, then one per resume), appended
// by rank 0 to the run directory and copied, as the lineage of that state, into every checkpoint.
// What a record holds is documented in the README's "A run" section (train/provenance.cpp fills it).
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pt::provenance {

inline constexpr const char* kFile = "provenance.jsonl";
inline constexpr const char* kFormat = "posttrain-provenance-v1";

// Appends one line to dir/provenance.jsonl (created if missing) and flushes it to disk.
void append(const std::string& dir, const nlohmann::json& record);
// Writes `records` as dir/provenance.jsonl (temporary file + rename).
void write_all(const std::string& dir, const std::vector<nlohmann::json>& records);
// The records of a provenance.jsonl; a malformed line is an error naming file:line. A last line cut
// by a kill in mid-write is skipped.
std::vector<nlohmann::json> read(const std::string& file);

// What `posttrain diff` and `--reproduce` compare: a run directory or a checkpoint directory.
struct RunRecords {
  std::string dir;                    // as given
  std::string run_dir;                // the run directory (a checkpoint's grandparent)
  std::optional<int64_t> checkpoint_step;  // set for a checkpoint directory
  std::vector<nlohmann::json> records;     // empty when the directory holds none (older runs)
  std::string metrics_file() const { return run_dir + "/metrics.jsonl"; }
};
RunRecords load_run(const std::string& dir);

}  // namespace pt::provenance
