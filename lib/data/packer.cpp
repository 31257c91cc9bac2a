#include "data/packer.h"

#include "core/error.h"

namespace pt::data {
using nlohmann::json;

Packer::Packer(DocStream& stream, int seq_len, bool packing, int window, int32_t pad_id)
    : stream_(stream), seq_len_(seq_len), packing_(packing), window_(packing ? std::max(1, window) : 1), pad_id_(pad_id) {}

void Packer::refill() {
  while (!stream_done_ && waiting_.size() < window_) {
    auto u = stream_.next();
    if (!u) {
      stream_done_ = true;
      break;
    }
    const auto len = static_cast<int32_t>(u->ex.size());
    waiting_.emplace(std::make_pair(len, ~order_++), std::move(*u));
  }
}

std::optional<Row> Packer::next() {
  refill();
  if (waiting_.empty()) return std::nullopt;
  std::vector<Unit> taken;
  int32_t space = seq_len_;
  while (!waiting_.empty()) {
    // Longest unit with length <= space; among equal lengths the earliest arrival (largest ~order).
    auto it = waiting_.upper_bound({space, UINT64_MAX});
    if (it == waiting_.begin()) break;
    --it;
    space -= it->first.first;
    taken.push_back(std::move(it->second));
    waiting_.erase(it);
    if (!packing_) break;
    refill();
  }
  PT_CHECK(!taken.empty(), "packer: a unit longer than seq_len reached the packer (truncation must run first)");
  return make_row(std::move(taken));
}

Row Packer::make_row(std::vector<Unit>&& units) { return pack_row(std::move(units), seq_len_, pad_id_, rows_++); }

Row pack_row(std::vector<Unit>&& units, int seq_len, int32_t pad_id, uint64_t index) {
  Row r;
  r.index = index;
  r.input_ids.reserve(seq_len);
  r.labels.reserve(seq_len);
  r.position_ids.reserve(seq_len);
  bool weighted = false;
  for (const auto& u : units)
    for (const auto& d : u.ex.docs) weighted = weighted || !d.weights.empty();
  for (size_t u = 0; u < units.size(); ++u) {
    for (const auto& d : units[u].ex.docs) {
      const auto n = static_cast<int32_t>(d.size());
      for (int32_t i = 0; i < n; ++i) {
        r.input_ids.push_back(d.ids[i]);
        r.position_ids.push_back(i);
        const bool has_target = i + 1 < n && d.trained[i + 1];
        r.labels.push_back(has_target ? d.ids[i + 1] : kIgnoreIndex);
        r.num_trained += has_target;
        const float w = has_target ? (d.weights.empty() ? 1.0f : d.weights[i + 1]) : 0.0f;
        if (weighted) r.label_weights.push_back(w);
        r.weight_sum += w;
      }
      r.doc_lens.push_back(n);
      r.doc_source.push_back(static_cast<int32_t>(units[u].ref.source));
      r.doc_unit.push_back(static_cast<int32_t>(u));
      r.doc_record.push_back(static_cast<int64_t>(units[u].ref.record));
      r.num_tokens += n;
    }
    if (!units[u].ex.meta.is_null()) {
      r.meta.resize(units.size());
      r.meta[u] = units[u].ex.meta;
    }
  }
  const int32_t pad = seq_len - r.num_tokens;
  if (pad > 0) {
    // Padding is a document of its own: it attends only to itself and carries no loss.
    for (int32_t i = 0; i < pad; ++i) {
      r.input_ids.push_back(pad_id);
      r.position_ids.push_back(i);
      r.labels.push_back(kIgnoreIndex);
      if (weighted) r.label_weights.push_back(0.0f);
    }
    r.doc_lens.push_back(pad);
    r.doc_source.push_back(-1);
    r.doc_unit.push_back(-1);
    r.doc_record.push_back(-1);
  }
  return r;
}

json Packer::state() const {
  json win = json::array();
  // Restored in arrival order, which reproduces the tie-breaking among equal lengths.
  std::vector<std::pair<uint64_t, UnitRef>> byorder;
  for (const auto& [k, u] : waiting_) byorder.emplace_back(~k.second, u.ref);
  std::sort(byorder.begin(), byorder.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [o, ref] : byorder) win.push_back(json::array({o, ref.to_json()}));
  return json{{"stream", stream_.state()}, {"window", win}, {"rows", rows_}, {"order", order_},
              {"stream_done", stream_done_}, {"seq_len", seq_len_}, {"packing", packing_}, {"window_size", window_}};
}

void Packer::restore(const json& j) {
  if (j.at("seq_len") != seq_len_ || j.at("packing") != packing_ || j.at("window_size") != window_)
    fail("data state was written with seq_len {}, packing {}, pack_window {}; the recipe now has {}, {}, {}",
         j.at("seq_len").dump(), j.at("packing").dump(), j.at("window_size").dump(), seq_len_, packing_, window_);
  stream_.restore(j.at("stream"));
  waiting_.clear();
  for (const auto& w : j.at("window")) {
    Unit u = stream_.materialize(UnitRef::from_json(w.at(1)));
    const auto len = static_cast<int32_t>(u.ex.size());
    waiting_.emplace(std::make_pair(len, ~w.at(0).get<uint64_t>()), std::move(u));
  }
  rows_ = j.at("rows");
  order_ = j.at("order");
  stream_done_ = j.at("stream_done");
}

}  // namespace pt::data
