#pragma once
// The document stream: sources (shards + encoder), the held-out split, per-source shuffled epochs,
// the seeded weighted mixture, truncation policy and bad-record handling. Its whole position is a
// small JSON state (cursors, mixer counter, pending split pieces, counters), so a restored stream
// continues exactly where the saved one was.
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/encode.h"
#include "data/example.h"
#include "data/options.h"
#include "data/shards.h"

namespace pt::data {

struct SourceData {
  SourceOptions opts;
  std::string key;  // "data.sources[0]"
  std::unique_ptr<Shards> shards;
  std::unique_ptr<RecordEncoder> encoder;
  std::vector<uint32_t> train;  // record indices in the training split
  std::vector<uint32_t> eval;   // held out
};

// All sources of a run, loaded and split once; streams only read it (safe across threads).
class DataSet {
 public:
  // `epochs` multiplies every source's own epochs (trainer.epochs).
  DataSet(const DataOptions& opts, const tok::HfTokenizer* tok, const tok::MaskOptions& masks, uint64_t seed,
          int64_t vocab_size = 0, int epochs = 1);
  const DataOptions& options() const { return opts_; }
  uint64_t seed() const { return seed_; }
  int epochs() const { return epochs_; }
  const std::vector<SourceData>& train_sources() const { return train_; }
  // Eval records live in eval_sources when given, else in the held-out part of the training sources.
  const std::vector<SourceData>& eval_sources() const { return eval_sources_.empty() ? train_ : eval_sources_; }
  size_t num_eval_records() const;
  const tok::HfTokenizer* tokenizer() const { return tok_; }
  std::string fingerprint() const;
  // Every shard file read, with the content hash taken while indexing it (the run's provenance).
  std::vector<InputFingerprint> input_fingerprints() const;

 private:
  DataOptions opts_;
  const tok::HfTokenizer* tok_;
  uint64_t seed_;
  int epochs_;
  std::vector<SourceData> train_, eval_sources_;
};

// Where a unit came from: enough to re-encode it after a restore.
struct UnitRef {
  uint32_t source = 0;
  uint32_t record = 0;  // index into the source's shards
  uint32_t piece = 0;   // split piece (Truncation::Split), else 0
  nlohmann::json to_json() const;
  static UnitRef from_json(const nlohmann::json& j);
};

struct Unit {
  UnitRef ref;
  Example ex;
};

struct SourceStats {
  uint64_t records = 0, docs = 0, tokens = 0, trained = 0;
  uint64_t truncated = 0, dropped = 0, cut_trained = 0, bad = 0;
  nlohmann::json to_json() const;
  static SourceStats from_json(const nlohmann::json& j);
};

class DocStream {
 public:
  enum class Split { Train, Eval };
  // only_source >= 0 (evaluation): the held-out records of that source alone.
  DocStream(const DataSet& ds, Split split, int only_source = -1);
  std::optional<Unit> next();
  Unit materialize(const UnitRef& ref) const;  // re-encodes a unit handed out earlier

  nlohmann::json state() const;
  void restore(const nlohmann::json& state);
  const std::vector<SourceStats>& stats() const { return stats_; }
  const std::vector<SourceData>& sources() const { return *sources_; }

 private:
  struct Cursor {
    uint32_t epoch = 0;
    uint64_t pos = 0;
  };
  bool exhausted(size_t s) const;
  std::optional<size_t> pick_source();
  uint32_t record_at(size_t s, const Cursor& c);
  // Encodes and applies truncation; nullopt when the record is dropped (counted).
  // A record encoded and cut to seq_len by its source's truncation policy, with what the cut did.
  struct Encoded {
    std::vector<Unit> units;  // empty when the record was dropped
    bool truncated = false, dropped = false;
    size_t size_before = 0, cut_trained = 0;
    const char* why = "";
    std::string where;
  };
  Encoded encode(size_t s, uint32_t record) const;
  // encode(), or nullopt for a bad record (skipped and counted under on_bad_record: skip, else thrown).
  std::optional<Encoded> encode_or_skip(size_t s, uint32_t record);
  void end_epoch(size_t s);
  void count(size_t s, const Encoded& e);

  const DataSet& ds_;
  Split split_;
  int only_source_ = -1;
  const std::vector<SourceData>* sources_;
  std::vector<Cursor> cursors_;
  std::vector<SourceStats> stats_;
  std::vector<bool> gave_in_epoch_;  // per source: a unit came out of the current training pass
  uint64_t mix_counter_ = 0;
  uint64_t bad_total_ = 0;
  std::deque<Unit> pending_;  // remaining pieces of the record split last (kept encoded)
  // Bad records already reported: later epochs skip them silently instead of counting them again.
  std::set<std::pair<uint32_t, uint32_t>> known_bad_;
  // Cached permutation of the current epoch of each source.
  std::vector<std::pair<int64_t, std::vector<uint32_t>>> perm_;
};

}  // namespace pt::data
