#include "data/stream.h"

#include <algorithm>
#include <filesystem>

#include "core/hash.h"
#include "core/log.h"
#include "data/rng.h"
#include "recipe/fields.h"

namespace pt::data {
using nlohmann::json;

namespace {
constexpr uint64_t kEvalSalt = 0x6576616c73706c74ull;  // the held-out split
constexpr uint64_t kMixSalt = 0x6d6978747572652eull;   // mixture draws
constexpr uint64_t kShuffleSalt = 0x73687566666c652eull;
constexpr uint64_t kChunkSalt = 0x6368756e6b732e2eull;
constexpr int kShuffleWindowChunks = 4;
// 2: sources with compressed shards are shuffled chunk-locally (chunked_permutation).
constexpr int kOrderVersion = 2;

std::string default_name(const SourceOptions& s) {
  if (!s.name.empty()) return s.name;
  std::string stem = std::filesystem::path(s.path).filename().string();
  for (const char* ext : {".zst", ".gz", ".jsonl", ".json"})
    if (stem.size() > std::string(ext).size() && stem.rfind(ext) == stem.size() - std::string(ext).size())
      stem.resize(stem.size() - std::string(ext).size());
  return stem;
}

SourceData load_source(const SourceOptions& o, std::string key, const tok::HfTokenizer* tok,
                       const tok::MaskOptions& masks, int64_t vocab, const ShardOptions& shard_opts) {
  SourceData sd;
  sd.opts = o;
  sd.opts.name = default_name(o);
  sd.key = std::move(key);
  sd.shards = std::make_unique<Shards>(o.path, sd.key + ".path", shard_opts);
  sd.encoder = std::make_unique<RecordEncoder>(tok, o, masks, sd.key, vocab);
  return sd;
}
}  // namespace

DataSet::DataSet(const DataOptions& opts, const tok::HfTokenizer* tok, const tok::MaskOptions& masks, uint64_t seed,
                 int64_t vocab_size, int epochs)
    : opts_(opts), tok_(tok), seed_(seed), epochs_(epochs) {
  if (opts.sources.empty()) fail("data.sources: at least one training source is required");
  const bool hold_out = opts.eval_sources.empty() && opts.eval_fraction > 0;
  ShardOptions shard_opts;
  shard_opts.chunk_bytes = static_cast<uint64_t>(opts.stream_chunk_kb) << 10;
  // The shuffle window plus the chunk a record of the previous window may still be read from.
  shard_opts.cached_chunks = static_cast<size_t>(kShuffleWindowChunks) + 1;
  size_t eval_budget = opts.max_eval_records > 0 ? static_cast<size_t>(opts.max_eval_records) : SIZE_MAX;
  for (size_t i = 0; i < opts.sources.size(); ++i) {
    auto sd = load_source(opts.sources[i], fmt::format("data.sources[{}]", i), tok, masks, vocab_size, shard_opts);
    const uint64_t salt = fnv1a64(sd.opts.name);
    for (uint32_t r = 0; r < sd.shards->size(); ++r) {
      // Membership depends on (seed, source name, record index) only: adding a source or changing
      // weights never moves a record between the splits.
      bool held = hold_out && u01(hash3(seed, kEvalSalt ^ salt, r)) < opts.eval_fraction;
      if (!held) {
        sd.train.push_back(r);
      } else if (eval_budget > 0) {
        sd.eval.push_back(r);
        --eval_budget;
      }
    }
    if (sd.train.empty()) fail("{}: every record of '{}' was held out for evaluation", sd.key, sd.opts.path);
    train_.push_back(std::move(sd));
  }
  for (size_t i = 0; i < opts.eval_sources.size(); ++i) {
    auto sd = load_source(opts.eval_sources[i], fmt::format("data.eval_sources[{}]", i), tok, masks, vocab_size,
                          shard_opts);
    for (uint32_t r = 0; r < sd.shards->size() && eval_budget > 0; ++r, --eval_budget) sd.eval.push_back(r);
    eval_sources_.push_back(std::move(sd));
  }
}

size_t DataSet::num_eval_records() const {
  size_t n = 0;
  for (const auto& s : eval_sources()) n += s.eval.size();
  return n;
}

namespace {
// The directory a source's files are named relative to: the directory itself, a glob's fixed
// leading part, or a single file's parent (so a file is keyed by its name, wherever the data sits).
std::string name_base(const std::string& pattern) {
  std::error_code ec;
  if (std::filesystem::is_directory(pattern, ec)) return pattern;
  const size_t wild = pattern.find_first_of("*?[");
  const std::string fixed = wild == std::string::npos ? pattern : pattern.substr(0, wild);
  const size_t slash = fixed.rfind('/');
  return slash == std::string::npos ? "." : fixed.substr(0, slash);
}

InputFingerprint source_fingerprint(const SourceData& s) {
  InputFingerprint in{s.key + ".path", s.opts.path, s.shards->file_fingerprints()};
  const std::filesystem::path base(name_base(s.opts.path));
  for (auto& f : in.files) f.name = std::filesystem::path(f.path).lexically_relative(base).generic_string();
  return in;
}
}  // namespace

std::vector<InputFingerprint> DataSet::input_fingerprints() const {
  std::vector<InputFingerprint> out;
  for (const auto& s : train_) out.push_back(source_fingerprint(s));
  for (const auto& s : eval_sources_) out.push_back(source_fingerprint(s));
  return out;
}

std::string DataSet::fingerprint() const {
  std::string f;
  for (const auto& s : train_) f += s.opts.name + ": " + s.shards->fingerprint() + "; ";
  return f;
}

json UnitRef::to_json() const { return json::array({source, record, piece}); }
UnitRef UnitRef::from_json(const json& j) { return UnitRef{j.at(0).get<uint32_t>(), j.at(1).get<uint32_t>(), j.at(2).get<uint32_t>()}; }

json SourceStats::to_json() const {
  return json{{"records", records}, {"docs", docs},       {"tokens", tokens},           {"trained", trained},
              {"truncated", truncated}, {"dropped", dropped}, {"cut_trained", cut_trained}, {"bad", bad}};
}
SourceStats SourceStats::from_json(const json& j) {
  SourceStats s;
  s.records = j.at("records"), s.docs = j.at("docs"), s.tokens = j.at("tokens"), s.trained = j.at("trained");
  s.truncated = j.at("truncated"), s.dropped = j.at("dropped"), s.cut_trained = j.at("cut_trained"), s.bad = j.at("bad");
  return s;
}

DocStream::DocStream(const DataSet& ds, Split split, int only_source)
    : ds_(ds), split_(split), only_source_(only_source),
      sources_(split == Split::Train ? &ds.train_sources() : &ds.eval_sources()) {
  PT_CHECK(only_source < 0 || (split == Split::Eval && static_cast<size_t>(only_source) < sources_->size()),
           "DocStream: source {} of {} (one source is an evaluation's choice)", only_source, sources_->size());
  cursors_.resize(sources_->size());
  stats_.resize(sources_->size());
  gave_in_epoch_.assign(sources_->size(), false);
  perm_.assign(sources_->size(), {-1, {}});
}

bool DocStream::exhausted(size_t s) const {
  const auto& src = (*sources_)[s];
  if (split_ == Split::Eval)
    return cursors_[s].pos >= src.eval.size() || (only_source_ >= 0 && s != static_cast<size_t>(only_source_));
  return src.train.empty() || cursors_[s].epoch >= static_cast<uint32_t>(src.opts.epochs * ds_.epochs());
}

std::optional<size_t> DocStream::pick_source() {
  if (split_ == Split::Eval) {
    for (size_t s = 0; s < sources_->size(); ++s)
      if (!exhausted(s)) return s;
    return std::nullopt;
  }
  double total = 0;
  for (size_t s = 0; s < sources_->size(); ++s)
    if (!exhausted(s)) total += (*sources_)[s].opts.weight;
  if (total <= 0) return std::nullopt;
  // Exhausted sources leave the draw and the rest keep their relative weights.
  double u = u01(hash3(ds_.seed(), kMixSalt, mix_counter_++)) * total;
  std::optional<size_t> last;
  for (size_t s = 0; s < sources_->size(); ++s) {
    if (exhausted(s)) continue;
    last = s;
    u -= (*sources_)[s].opts.weight;
    if (u < 0) return s;
  }
  return last;
}

// The shuffle of a source with compressed shards keeps reads local: runs of chunks (a chunk and the
// unseekable ones after it) in a random order, then the records of every kShuffleWindowChunks
// consecutive chunks shuffled together. Only those chunks need to be decompressed at a time.
static std::vector<uint32_t> chunked_permutation(const SourceData& src, uint64_t seed) {
  const auto& chunks = src.shards->chunks();
  std::vector<size_t> run_starts;
  for (size_t c = 0; c < chunks.size(); ++c)
    if (chunks[c].seekable || run_starts.empty()) run_starts.push_back(c);
  const auto run_order = permutation(run_starts.size(), hash3(seed, kChunkSalt, 0));
  std::vector<size_t> order;
  order.reserve(chunks.size());
  for (uint32_t r : run_order) {
    const size_t end = r + 1 < run_starts.size() ? run_starts[r + 1] : chunks.size();
    for (size_t c = run_starts[r]; c < end; ++c) order.push_back(c);
  }
  std::vector<uint32_t> out;
  out.reserve(src.train.size());
  std::vector<uint32_t> window;
  for (size_t w = 0; w < order.size(); w += kShuffleWindowChunks) {
    window.clear();
    for (size_t k = w; k < std::min(order.size(), w + kShuffleWindowChunks); ++k) {
      const auto& ch = chunks[order[k]];
      // Positions in `train` (sorted record indices) of this chunk's training records.
      auto lo = std::lower_bound(src.train.begin(), src.train.end(), ch.first_record);
      auto hi = std::lower_bound(lo, src.train.end(), ch.first_record + ch.records);
      for (auto it = lo; it != hi; ++it) window.push_back(static_cast<uint32_t>(it - src.train.begin()));
    }
    for (uint32_t i : permutation(window.size(), hash3(seed, kChunkSalt, w + 1))) out.push_back(window[i]);
  }
  return out;
}

uint32_t DocStream::record_at(size_t s, const Cursor& c) {
  const auto& src = (*sources_)[s];
  if (split_ == Split::Eval) return src.eval[c.pos];
  if (!ds_.options().shuffle) return src.train[c.pos];
  auto& [epoch, perm] = perm_[s];
  if (epoch != c.epoch) {
    const uint64_t seed = hash3(ds_.seed(), kShuffleSalt ^ fnv1a64(src.opts.name), c.epoch);
    perm = src.shards->random_access() ? permutation(src.train.size(), seed) : chunked_permutation(src, seed);
    epoch = c.epoch;
  }
  return src.train[perm[c.pos]];
}

DocStream::Encoded DocStream::encode(size_t s, uint32_t record) const {
  const auto& src = (*sources_)[s];
  const size_t seq_len = static_cast<size_t>(ds_.options().seq_len);
  const bool needs_trained = src.opts.format != Format::Prompts && src.opts.format != Format::Classification &&
                             src.opts.format != Format::TokenClassification;
  // Per-position labels in the metadata are cut with their positions.
  auto cut_labels = [](nlohmann::json& meta, size_t b, size_t e) {
    if (!meta.is_object() || !meta.contains("token_labels")) return;
    const auto& all = meta["token_labels"];
    nlohmann::json part = nlohmann::json::array();
    for (size_t i = b; i < e && i < all.size(); ++i) part.push_back(all[i]);
    meta["token_labels"] = std::move(part);
  };
  Encoded out;
  const std::string text = src.shards->record(record, &out.where);
  Example ex = src.encoder->encode(text, out.where);
  out.size_before = ex.size();
  std::vector<Example> pieces;
  auto trained_of = [](const Example& e) {
    size_t n = 0;
    for (const auto& d : e.docs) n += d.num_trained();
    return n;
  };
  const size_t trained_before = trained_of(ex);
  auto drop = [&](const char* why) {
    out.dropped = true;
    out.cut_trained = trained_before;
    out.why = why;
    return std::move(out);
  };
  Truncation policy = src.opts.truncation;
  if (policy == Truncation::Split && ex.docs.size() > 1) policy = Truncation::Drop;  // a pair cannot be split apart
  if (ex.size() <= seq_len) {
    pieces.push_back(std::move(ex));
  } else if (policy == Truncation::Drop) {
    return drop("truncation: drop");
  } else if (policy == Truncation::Split) {
    const Document& d = ex.docs[0];
    for (size_t b = 0; b < d.size(); b += seq_len) {
      size_t e = std::min(d.size(), b + seq_len);
      Document piece = d.slice(b, e);
      // A piece whose targets are all masked teaches nothing.
      if (needs_trained && piece.num_trained() == 0) continue;
      Example pe;
      pe.docs.push_back(std::move(piece));
      pe.meta = ex.meta;
      cut_labels(pe.meta, b, e);
      pieces.push_back(std::move(pe));
    }
    if (pieces.empty()) return drop("no split piece has a trained token");
    out.truncated = true;
  } else {
    // Left/right: each document of the unit gets an equal share of the row.
    const size_t budget = seq_len / ex.docs.size();
    for (auto& d : ex.docs) {
      if (d.size() > budget) {
        // Left keeps the last `budget` positions, right the first.
        const size_t b = policy == Truncation::Left ? d.size() - budget : 0;
        if (ex.docs.size() == 1) cut_labels(ex.meta, b, b + budget);
        d = d.slice(b, b + budget);
      }
      if (needs_trained && d.num_trained() == 0) return drop("truncation removed every trained token");
    }
    out.truncated = true;
    out.cut_trained = trained_before - trained_of(ex);
    pieces.push_back(std::move(ex));
  }
  for (uint32_t p = 0; p < pieces.size(); ++p)
    out.units.push_back(Unit{UnitRef{static_cast<uint32_t>(s), record, p}, std::move(pieces[p])});
  return out;
}

void DocStream::count(size_t s, const Encoded& e) {
  auto& st = stats_[s];
  ++st.records;
  st.truncated += e.truncated;
  st.cut_trained += e.cut_trained;
  if (e.dropped && ++st.dropped == 1)
    log::warn("{}: record of {} tokens is longer than data.seq_len = {}: {} (counted as dropped in metrics; "
              "further ones are only counted)",
              e.where, e.size_before, ds_.options().seq_len, e.why);
  for (const auto& u : e.units)
    for (const auto& d : u.ex.docs) {
      ++st.docs;
      st.tokens += d.size();
      st.trained += d.num_trained();
    }
}

Unit DocStream::materialize(const UnitRef& ref) const {
  // Re-encoding is deterministic; nothing is counted because the unit was counted when first drawn.
  auto units = encode(ref.source, ref.record).units;
  if (ref.piece >= units.size())
    fail("data state refers to piece {} of {} which now has {} pieces (did the data or tokenizer change?)", ref.piece,
         (*sources_)[ref.source].shards->where(ref.record), units.size());
  return std::move(units[ref.piece]);
}

std::optional<Unit> DocStream::next() {
  if (!pending_.empty()) {
    Unit u = std::move(pending_.front());
    pending_.pop_front();
    return u;
  }
  for (;;) {
    auto s = pick_source();
    if (!s) return std::nullopt;
    Cursor& c = cursors_[*s];
    uint32_t record = record_at(*s, c);
    // Training cursors wrap into the next epoch; eval cursors simply run out (exhausted()).
    const bool last_of_epoch = ++c.pos >= (*sources_)[*s].train.size() && split_ == Split::Train;
    if (last_of_epoch) {
      ++c.epoch;
      c.pos = 0;
    }
    std::optional<Encoded> enc = encode_or_skip(*s, record);
    if (enc) count(*s, *enc);
    const bool gave = enc && !enc->units.empty();
    if (gave) gave_in_epoch_[*s] = true;
    if (last_of_epoch) end_epoch(*s);
    if (!gave) continue;
    for (size_t i = 1; i < enc->units.size(); ++i) pending_.push_back(std::move(enc->units[i]));
    return std::move(enc->units[0]);
  }
}

std::optional<DocStream::Encoded> DocStream::encode_or_skip(size_t s, uint32_t record) {
  if (known_bad_.count({static_cast<uint32_t>(s), record})) return std::nullopt;
  try {
    return encode(s, record);
  } catch (const BadRecord& e) {
    known_bad_.insert({static_cast<uint32_t>(s), record});
    ++stats_[s].bad;
    ++bad_total_;
    if (ds_.options().on_bad_record == BadRecords::Error)
      throw BadRecord(std::string(e.what()) + "\n(set data.on_bad_record: skip to skip such records)");
    if (bad_total_ > static_cast<uint64_t>(ds_.options().max_bad_records))
      fail("{}\n{} bad records exceed data.max_bad_records = {}", e.what(), bad_total_, ds_.options().max_bad_records);
    log::warn("skipping bad record ({} so far): {}", bad_total_, e.what());
    return std::nullopt;
  }
}

// A whole pass over a source that gave nothing (every record dropped or bad) would repeat forever:
// the run stops, naming the source and why.
void DocStream::end_epoch(size_t s) {
  if (!gave_in_epoch_[s]) {
    const auto& src = (*sources_)[s];
    const auto& st = stats_[s];
    std::string others;
    for (const char* t : {"left", "right", "split"})
      if (std::string(t) != recipe::enum_name(src.opts.truncation)) others += others.empty() ? t : std::string(" or ") + t;
    fail("{} ('{}'): a whole pass over its {} training records gave nothing to train on (records dropped so far as "
         "longer than data.seq_len = {} under truncation {}: {}; bad: {}); raise data.seq_len or set {}.truncation: {}",
         src.key, src.opts.name, src.train.size(), ds_.options().seq_len, recipe::enum_name(src.opts.truncation),
         st.dropped, st.bad, src.key, others);
  }
  gave_in_epoch_[s] = false;
}

json DocStream::state() const {
  json cur = json::array(), pend = json::array(), st = json::array();
  for (const auto& c : cursors_) cur.push_back({c.epoch, c.pos});
  for (const auto& p : pending_) pend.push_back(p.ref.to_json());
  for (const auto& s : stats_) st.push_back(s.to_json());
  json bad = json::array();
  for (const auto& [src, rec] : known_bad_) bad.push_back({src, rec});
  return json{{"mix_counter", mix_counter_}, {"cursors", cur},      {"pending", pend},
              {"stats", st},                 {"bad_total", bad_total_}, {"known_bad", bad},
              {"fingerprint", ds_.fingerprint()}, {"order", kOrderVersion}};
}

void DocStream::restore(const json& j) {
  if (j.at("fingerprint") != ds_.fingerprint())
    fail("the data changed since the checkpoint was written (then: {}; now: {}); exact resume is impossible",
         j.at("fingerprint").get<std::string>(), ds_.fingerprint());
  for (const auto& src : *sources_)
    if (!src.shards->random_access() && j.value("order", 1) != kOrderVersion)
      log::warn("{}: this checkpoint's data state predates the chunk-local order of compressed shards; the run "
                "continues with the new order, so it is not a bit-exact continuation of the saved run",
                src.key);
  if (j.at("cursors").size() != cursors_.size()) fail("data state has {} sources, the recipe {}", j.at("cursors").size(), cursors_.size());
  gave_in_epoch_.assign(cursors_.size(), true);  // the current passes began before the checkpoint
  mix_counter_ = j.at("mix_counter");
  bad_total_ = j.at("bad_total");
  for (size_t i = 0; i < cursors_.size(); ++i) {
    cursors_[i].epoch = j["cursors"][i].at(0);
    cursors_[i].pos = j["cursors"][i].at(1);
    stats_[i] = SourceStats::from_json(j.at("stats").at(i));
  }
  pending_.clear();
  // Pending pieces all come from one split record: encode it once.
  std::optional<Encoded> split;
  std::pair<uint32_t, uint32_t> split_of{UINT32_MAX, UINT32_MAX};
  for (const auto& p : j.at("pending")) {
    const UnitRef ref = UnitRef::from_json(p);
    if (!split || split_of != std::make_pair(ref.source, ref.record)) {
      split = encode(ref.source, ref.record);
      split_of = {ref.source, ref.record};
    }
    if (ref.piece >= split->units.size())
      fail("data state refers to piece {} of {} which now has {} pieces (did the data or tokenizer change?)", ref.piece,
           split->where, split->units.size());
    pending_.push_back(split->units[ref.piece]);
  }
  known_bad_.clear();
  for (const auto& b : j.at("known_bad")) known_bad_.insert({b.at(0).get<uint32_t>(), b.at(1).get<uint32_t>()});
}

}  // namespace pt::data
