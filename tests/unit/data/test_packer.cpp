// Streaming packing: document boundaries, label shifting, conservation of documents, best-fit
// efficiency, determinism, exact resume, data-parallel sharding, mixtures, truncation, bad records.
#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "data_fixtures.h"

using namespace pt;
using namespace pt::data;
using pt::testing::TempDir;

namespace {
DataOptions chat_options(const TempDir& dir, int records = 200, int seq_len = 256) {
  DataOptions o;
  SourceOptions s;
  s.path = dir.write("chat.jsonl", testing::chat_lines(records));
  o.sources.push_back(s);
  o.seq_len = seq_len;
  o.pack_window = 64;
  return o;
}
std::vector<Row> all_rows(const DataSet& ds, LoaderOptions lo = {}) {
  Loader l(ds, DocStream::Split::Train, lo);
  std::vector<Row> rows;
  while (auto b = l.next())
    for (auto& r : b->rows) rows.push_back(std::move(r));
  return rows;
}
std::vector<uint64_t> hashes(const std::vector<Row>& rows) {
  std::vector<uint64_t> h;
  for (const auto& r : rows) h.push_back(testing::row_hash(r));
  return h;
}
}  // namespace

TEST_CASE("packed rows keep documents whole and never cross a boundary", "[data][packer]") {
  TempDir dir;
  auto opts = chat_options(dir);
  DataSet ds(opts, &testing::qwen3(), {}, 1);
  auto rows = all_rows(ds);
  REQUIRE(rows.size() > 5);
  int64_t docs = 0;
  for (const auto& r : rows) {
    REQUIRE(r.input_ids.size() == 256u);
    REQUIRE(r.labels.size() == 256u);
    int32_t total = 0;
    for (size_t d = 0; d < r.doc_lens.size(); ++d) {
      const int32_t len = r.doc_lens[d];
      for (int32_t i = 0; i < len; ++i) {
        // Positions restart per document; the last token of a document has no target, so no
        // label ever names the next document's first token.
        REQUIRE(r.position_ids[total + i] == i);
        if (i + 1 < len && r.labels[total + i] != kIgnoreIndex) REQUIRE(r.labels[total + i] == r.input_ids[total + i + 1]);
      }
      REQUIRE(r.labels[total + len - 1] == kIgnoreIndex);
      if (r.doc_source[d] >= 0) ++docs;
      total += len;
    }
    REQUIRE(total == 256);
    int32_t trained = 0;
    for (int32_t l : r.labels) trained += l != kIgnoreIndex;
    REQUIRE(trained == r.num_trained);
  }
  // Every record ends up in exactly one row.
  CHECK(docs == 200);
}

TEST_CASE("best-fit packing beats one document per row", "[data][packer]") {
  TempDir dir;
  auto opts = chat_options(dir);
  DataSet packed(opts, &testing::qwen3(), {}, 1);
  opts.packing = false;
  DataSet padded(opts, &testing::qwen3(), {}, 1);
  auto a = all_rows(packed), b = all_rows(padded);
  int64_t ta = 0, tb = 0;
  for (const auto& r : a) ta += r.num_tokens;
  for (const auto& r : b) tb += r.num_tokens;
  CHECK(ta == tb);
  CHECK(b.size() == 200u);
  const double eff = double(ta) / (a.size() * 256.0);
  CHECK(eff > 0.9);
  CHECK(a.size() * 3 < b.size());
}

TEST_CASE("the stream is a function of the seed", "[data][packer][determinism]") {
  TempDir dir;
  auto opts = chat_options(dir);
  DataSet ds1(opts, &testing::qwen3(), {}, 7), ds2(opts, &testing::qwen3(), {}, 7), ds3(opts, &testing::qwen3(), {}, 8);
  LoaderOptions lo;
  lo.prefetch_steps = 3;
  auto h1 = hashes(all_rows(ds1, lo));
  lo.prefetch_steps = 0;  // background or inline production does not change the sequence
  CHECK(h1 == hashes(all_rows(ds2, lo)));
  CHECK(h1 != hashes(all_rows(ds3, lo)));
}

TEST_CASE("a restored loader continues with exactly the batches of an uninterrupted one", "[data][packer][resume]") {
  TempDir dir;
  auto opts = chat_options(dir, 300, 128);
  opts.sources[0].truncation = Truncation::Split;
  SourceOptions second;
  second.path = dir.write("more.jsonl", testing::chat_lines(100, 5));
  second.weight = 0.5;
  second.epochs = 2;
  opts.sources.push_back(second);
  DataSet ds(opts, &testing::qwen3(), {}, 3);
  LoaderOptions lo;
  lo.rows_per_step = 4;
  lo.prefetch_steps = 4;
  for (int cut : {0, 1, 5, 17}) {
    Loader straight(ds, DocStream::Split::Train, lo);
    std::vector<uint64_t> want, got;
    nlohmann::json saved;
    int step = 0;
    while (auto b = straight.next()) {
      if (step++ == cut) saved = straight.state();
      if (step > cut + 1)
        for (const auto& r : b->rows) want.push_back(testing::row_hash(r));
    }
    if (cut == 0) {
      // state() before any next() is the initial state
      Loader fresh(ds, DocStream::Split::Train, lo);
      CHECK(fresh.state()["step"] == 0);
    }
    // Round-trip through text, as a checkpoint does.
    auto state = nlohmann::json::parse(saved.dump());
    Loader resumed(ds, DocStream::Split::Train, lo, &state);
    while (auto b = resumed.next())
      for (const auto& r : b->rows) got.push_back(testing::row_hash(r));
    INFO("cut after step " << cut);
    REQUIRE(!want.empty());
    CHECK(got == want);
  }
}

TEST_CASE("data-parallel ranks split every step and get equal step counts", "[data][packer][dp]") {
  TempDir dir;
  auto opts = chat_options(dir, 250);
  DataSet ds(opts, &testing::qwen3(), {}, 11);
  LoaderOptions one;
  one.rows_per_step = 4;
  auto global = all_rows(ds, one);
  std::vector<std::vector<Row>> per_rank(2);
  std::vector<int> steps(2, 0);
  for (int rank = 0; rank < 2; ++rank) {
    LoaderOptions lo = one;
    lo.rank = rank;
    lo.world = 2;
    Loader l(ds, DocStream::Split::Train, lo);
    while (auto b = l.next()) {
      ++steps[rank];
      REQUIRE(b->rows.size() == 2u);
      for (auto& r : b->rows) per_rank[rank].push_back(std::move(r));
    }
  }
  CHECK(steps[0] == steps[1]);
  REQUIRE(per_rank[0].size() + per_rank[1].size() == global.size());
  for (size_t i = 0; i < global.size(); ++i)
    CHECK(testing::row_hash(per_rank[i % 2][i / 2]) == testing::row_hash(global[i]));
  CHECK(global.size() % 4 == 0);
}

TEST_CASE("mixtures follow the weights and per-source epochs", "[data][packer][mixture]") {
  TempDir dir;
  DataOptions o;
  SourceOptions a, b;
  a.path = dir.write("a.jsonl", testing::chat_lines(300, 1));
  a.weight = 3;
  b.path = dir.write("b.jsonl", testing::chat_lines(100, 2));
  b.weight = 1;
  b.epochs = 2;
  o.sources = {a, b};
  o.seq_len = 512;
  DataSet ds(o, &testing::qwen3(), {}, 5);
  DocStream s(ds, DocStream::Split::Train);
  std::vector<int> first400(2, 0), total(2, 0);
  int n = 0;
  std::multiset<std::pair<uint32_t, uint32_t>> seen;
  while (auto u = s.next()) {
    if (n++ < 200) ++first400[u->ref.source];
    ++total[u->ref.source];
    seen.insert({u->ref.source, u->ref.record});
  }
  CHECK(total[0] == 300);
  CHECK(total[1] == 200);
  CHECK(seen.count({1, 7}) == 2);
  // While both are active the draw is 3:1.
  CHECK(first400[0] == Approx(150).margin(25));
  CHECK(s.stats()[1].records == 200);
}

TEST_CASE("the held-out split is deterministic and disjoint from training", "[data][packer][eval]") {
  TempDir dir;
  auto opts = chat_options(dir, 400);
  opts.eval_fraction = 0.1;
  DataSet ds(opts, &testing::qwen3(), {}, 9);
  const auto& src = ds.train_sources()[0];
  CHECK(src.train.size() + src.eval.size() == 400u);
  CHECK(src.eval.size() == Approx(40).margin(20));
  std::set<uint32_t> tr(src.train.begin(), src.train.end());
  for (auto e : src.eval) CHECK(tr.count(e) == 0);
  DataSet again(opts, &testing::qwen3(), {}, 9);
  CHECK(again.train_sources()[0].eval == src.eval);
  DocStream ev(ds, DocStream::Split::Eval);
  size_t n = 0;
  while (ev.next()) ++n;
  CHECK(n == src.eval.size());
}

TEST_CASE("truncation policies are applied and counted", "[data][packer][truncation]") {
  TempDir dir;
  nlohmann::json longrec{{"messages",
                          {{{"role", "user"}, {"content", std::string(400, 'a') + " question"}},
                           {{"role", "assistant"}, {"content", "short answer"}}}}};
  nlohmann::json longans{{"messages",
                          {{{"role", "user"}, {"content", "q"}}, {{"role", "assistant"}, {"content", std::string(300, 'b')}}}}};
  auto path = dir.write("long.jsonl", {longrec.dump(), longans.dump()});
  for (auto policy : {Truncation::Drop, Truncation::Left, Truncation::Right, Truncation::Split}) {
    DataOptions o;
    SourceOptions s;
    s.path = path;
    s.truncation = policy;
    o.sources = {s};
    o.seq_len = 32;
    o.shuffle = false;
    DataSet ds(o, &testing::qwen3(), {}, 1);
    DocStream st(ds, DocStream::Split::Train);
    INFO("policy " << int(policy));
    if (policy == Truncation::Drop) {
      // Every record dropped: a pass that gives nothing stops the stream (it would repeat forever).
      CHECK_THROWS_WITH(st.next(), Catch::Contains("data.sources[0]") && Catch::Contains("gave nothing to train on") &&
                                       Catch::Contains("under truncation drop: 2") &&
                                       Catch::Contains("left or right or split"));
      continue;
    }
    std::vector<Unit> units;
    while (auto u = st.next()) units.push_back(std::move(*u));
    const auto& stats = st.stats()[0];
    for (const auto& u : units) CHECK(u.ex.size() <= 32u);
    switch (policy) {
      case Truncation::Drop:
        break;
      case Truncation::Left:
        // Keeps the answer of the long question; the long answer keeps its end.
        CHECK(units.size() == 2);
        CHECK(stats.truncated == 2);
        break;
      case Truncation::Right:
        // The long question's answer is cut away entirely: dropped, not trained on nothing.
        CHECK(units.size() == 1);
        CHECK(stats.dropped == 1);
        CHECK(stats.cut_trained > 0);
        break;
      case Truncation::Split:
        CHECK(units.size() > 3);
        break;
    }
  }
}

TEST_CASE("bad records stop the run by default and are skipped, counted and capped on request", "[data][bad]") {
  TempDir dir;
  auto lines = testing::chat_lines(20);
  lines[4] = "{\"messages\": [";
  lines[9] = R"({"conversation": []})";
  auto path = dir.write("bad.jsonl", lines);
  DataOptions o;
  SourceOptions s;
  s.path = path;
  o.sources = {s};
  o.seq_len = 256;
  o.shuffle = false;
  {
    DataSet ds(o, &testing::qwen3(), {}, 1);
    DocStream st(ds, DocStream::Split::Train);
    CHECK_THROWS_WITH(
        [&] { while (st.next()) {} }(),
        Catch::Contains(path + ":5: malformed JSON") && Catch::Contains("on_bad_record: skip"));
  }
  o.on_bad_record = BadRecords::Skip;
  {
    DataSet ds(o, &testing::qwen3(), {}, 1);
    DocStream st(ds, DocStream::Split::Train);
    int n = 0;
    while (st.next()) ++n;
    CHECK(n == 18);
    CHECK(st.stats()[0].bad == 2);
  }
  {
    // Over several epochs a bad record is reported and counted once.
    auto more = o;
    more.sources[0].epochs = 5;
    DataSet ds(more, &testing::qwen3(), {}, 1);
    DocStream st(ds, DocStream::Split::Train);
    int n = 0;
    while (st.next()) ++n;
    CHECK(n == 5 * 18);
    CHECK(st.stats()[0].bad == 2);
  }
  o.max_bad_records = 1;
  {
    DataSet ds(o, &testing::qwen3(), {}, 1);
    DocStream st(ds, DocStream::Split::Train);
    CHECK_THROWS_WITH([&] { while (st.next()) {} }(),
                      Catch::Contains(path + ":10: missing field 'messages'") && Catch::Contains("max_bad_records = 1"));
  }
}

TEST_CASE("sources: globs, directories and compressed shards, and missing paths are named", "[data][sources]") {
  TempDir dir;
  dir.write("shards/a-0.jsonl", testing::chat_lines(3));
  dir.write("shards/a-1.jsonl", testing::chat_lines(4));
  dir.write("shards/notes.txt", {"ignored"});
  CHECK(Shards(dir.path + "/shards", "k").size() == 7u);
  CHECK(Shards(dir.path + "/shards/a-*.jsonl", "k").size() == 7u);
  CHECK(Shards(dir.path + "/shards/a-1.jsonl", "k").where(2) == dir.path + "/shards/a-1.jsonl:3");
  std::string zst = dir.path + "/shards/a-1.jsonl.zst";
  REQUIRE(std::system(("zstd -q " + dir.path + "/shards/a-1.jsonl -o " + zst).c_str()) == 0);
  CHECK(Shards(zst, "k").size() == 4u);
  std::string gz = dir.path + "/g.jsonl";
  dir.write("g.jsonl", testing::chat_lines(5));
  REQUIRE(std::system(("gzip -q " + gz).c_str()) == 0);
  CHECK(Shards(gz + ".gz", "k").size() == 5u);
  CHECK_THROWS_WITH(Shards(dir.path + "/nope.jsonl", "data.sources[2].path"),
                    Catch::Contains("data.sources[2].path: no such file"));
  CHECK_THROWS_WITH(Shards(dir.path + "/shards/*.parquet", "data.sources[0].path"), Catch::Contains("matches no files"));
}
