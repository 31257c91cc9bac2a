#pragma once
// A tensor-parallel group of threads in one process (tests): every member sums / concatenates the
// others' tensors in rank order, so all members see identical results, as over MPI or NCCL.
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <ATen/ATen.h>

#include "model/tensor_parallel.h"

namespace pt::test {

class ThreadGroup {
 public:
  explicit ThreadGroup(int n) : n_(n), slots_(static_cast<size_t>(n)) {}
  void barrier() {
    std::unique_lock<std::mutex> l(m_);
    const int64_t gen = gen_;
    if (++arrived_ == n_) {
      arrived_ = 0;
      ++gen_;
      cv_.notify_all();
    } else {
      cv_.wait(l, [&] { return gen_ != gen; });
    }
  }
  std::vector<at::Tensor>& slots() { return slots_; }
  int size() const { return n_; }

 private:
  int n_;
  std::mutex m_;
  std::condition_variable cv_;
  int arrived_ = 0;
  int64_t gen_ = 0;
  std::vector<at::Tensor> slots_;
};

class ThreadMember : public model::TpGroup {
 public:
  ThreadMember(std::shared_ptr<ThreadGroup> g, int rank) : g_(std::move(g)), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return g_->size(); }
  void all_reduce_sum(const at::Tensor& t) override {
    g_->slots()[static_cast<size_t>(rank_)] = t.clone();
    g_->barrier();
    at::Tensor sum = g_->slots()[0].clone();
    for (int r = 1; r < size(); ++r) sum += g_->slots()[static_cast<size_t>(r)];
    g_->barrier();
    t.copy_(sum);
  }
  at::Tensor all_gather(const at::Tensor& t) override {
    g_->slots()[static_cast<size_t>(rank_)] = t.clone();
    g_->barrier();
    at::Tensor out = at::cat(g_->slots(), 0);
    g_->barrier();
    return out;
  }

 private:
  std::shared_ptr<ThreadGroup> g_;
  int rank_;
};

// Runs fn(rank, member) on n threads of one group; rethrows the first failure.
inline void run_ranks(int n, const std::function<void(int, std::shared_ptr<model::TpGroup>)>& fn) {
  auto group = std::make_shared<ThreadGroup>(n);
  std::vector<std::exception_ptr> errors(static_cast<size_t>(n));
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r)
    threads.emplace_back([&, r] {
      try {
        fn(r, std::make_shared<ThreadMember>(group, r));
      } catch (...) {
        errors[static_cast<size_t>(r)] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace pt::test
