#include "data/loader.h"

#include "core/error.h"
#include "core/log.h"

namespace pt::data {
using nlohmann::json;

Loader::Loader(const DataSet& ds, DocStream::Split split, const LoaderOptions& opts, const json* restore)
    : opts_(opts),
      stream_(ds, split, opts.only_source),
      packer_(stream_, ds.options().seq_len, ds.options().packing, ds.options().pack_window, opts.pad_id) {
  PT_CHECK(opts.world >= 1 && opts.rank >= 0 && opts.rank < opts.world, "loader: bad rank {} of {}", opts.rank, opts.world);
  PT_CHECK(opts.rows_per_step % opts.world == 0, "loader: {} rows per step do not divide over {} ranks",
           opts.rows_per_step, opts.world);
  if (restore) {
    packer_.restore(restore->at("packer"));
    step_ = restore->at("step");
  }
  state_ = json{{"packer", packer_.state()}, {"step", step_}};
  if (opts_.prefetch_steps > 0) thread_ = std::thread([this] { run(); });
}

Loader::~Loader() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::optional<StepBatch> Loader::produce() {
  StepBatch b;
  b.step = step_;
  for (int k = 0; k < opts_.rows_per_step; ++k) {
    auto row = packer_.next();
    if (!row) {
      if (!opts_.drop_last && k > 0) break;
      // Equal steps on every rank: a partial step is dropped by all of them alike.
      dropped_rows_ += static_cast<uint64_t>(k);
      if (k > 0) log::info("data: the last {} row(s) do not fill a step of {} rows and are not trained", k, opts_.rows_per_step);
      return std::nullopt;
    }
    ++b.global_rows;
    b.global_tokens += row->num_tokens;
    b.global_trained += row->num_trained;
    b.global_weight += row->weight_sum;
    if (k % opts_.world == opts_.rank) b.rows.push_back(std::move(*row));
  }
  ++step_;
  b.state = json{{"packer", packer_.state()}, {"step", step_}};
  b.source_stats = stream_.stats();
  return b;
}

void Loader::run() {
  try {
    for (;;) {
      auto b = produce();
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return stop_ || queue_.size() < static_cast<size_t>(opts_.prefetch_steps); });
      if (stop_) return;
      bool end = !b;
      queue_.push_back(std::move(b));
      cv_.notify_all();
      if (end) return;
    }
  } catch (...) {
    std::lock_guard<std::mutex> l(mu_);
    error_ = std::current_exception();
    cv_.notify_all();
  }
}

std::optional<StepBatch> Loader::next() {
  std::optional<StepBatch> b;
  if (ended_) return std::nullopt;
  if (opts_.prefetch_steps == 0) {
    b = produce();
  } else {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return !queue_.empty() || error_; });
    if (queue_.empty()) std::rethrow_exception(error_);
    b = std::move(queue_.front());
    queue_.pop_front();
    cv_.notify_all();
  }
  if (b)
    state_ = b->state;
  else
    ended_ = true;
  return b;
}

uint64_t count_steps(const DataSet& ds, const LoaderOptions& opts) {
  LoaderOptions o = opts;
  o.prefetch_steps = 0;
  Loader l(ds, DocStream::Split::Train, o);
  uint64_t n = 0;
  while (l.next()) ++n;
  return n;
}

}  // namespace pt::data
