// Peak memory of the loss step (LM head + cross-entropy, forward + backward): chunked vs naive
// full-logits, at vocab 151,936 (Qwen). op=logprobs measures the per-token log-probs op instead
// (what DPO, distillation and RL build on), with a weighted sum of them as the loss. Each configuration runs in a forked child so its peak RSS
// is its own. Memory of the logits does not depend on the hidden size, so a small one keeps the
// CPU run short; pass a larger one to see compute too.
//   bench_chunked_ce [hidden=64] [tokens list, default 2048,4096,8192,16384] [chunk=1024]
//                    [naive_max_tokens=8192: above it the naive step is not run (16k needs ~28 GB)]
//                    [op=ce|logprobs]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "algo/logprobs.h"
#include "algo/losses.h"

using namespace pt;

namespace {
const int64_t kVocab = 151936, kPadded = 151936;  // already a multiple of 64

struct Result {
  double peak_mb = -1, seconds = 0, loss = 0;
};

bool g_logprobs = false;

Result child(bool chunked, int64_t tokens, int64_t hidden, int64_t chunk) {
  torch::manual_seed(0);
  auto h = (torch::randn({tokens, hidden}) * 0.1).requires_grad_();
  auto w = (torch::randn({kPadded, hidden}) * 0.02).requires_grad_();
  auto y = torch::randint(0, kVocab, {tokens}, torch::kLong);
  struct rusage before {};
  getrusage(RUSAGE_SELF, &before);
  auto t0 = std::chrono::steady_clock::now();
  torch::Tensor loss;
  if (g_logprobs) {
    auto g = torch::rand({tokens});  // per-token weights, as a sequence-level loss gives them
    auto lp = chunked ? algo::chunked_logprobs(h, w, y, kVocab, chunk) : algo::plain_logprobs(h, w, y, kVocab);
    loss = -(lp * g).sum();
  } else {
    loss = chunked ? algo::chunked_cross_entropy(h, w, y, kVocab, chunk) : algo::plain_cross_entropy(h, w, y, kVocab);
  }
  loss.backward();
  Result r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.loss = loss.item<double>() / tokens;
  struct rusage after {};
  getrusage(RUSAGE_SELF, &after);
  r.peak_mb = (after.ru_maxrss - before.ru_maxrss) / 1024.0;  // growth of the peak during the step
  return r;
}

Result run(bool chunked, int64_t tokens, int64_t hidden, int64_t chunk) {
  int fd[2];
  if (pipe(fd) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    Result r = child(chunked, tokens, hidden, chunk);
    if (write(fd[1], &r, sizeof(r)) != sizeof(r)) _exit(1);
    _exit(0);
  }
  close(fd[1]);
  Result r;
  ssize_t got = read(fd[0], &r, sizeof(r));
  close(fd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (got != sizeof(r) || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return Result{};  // OOM-killed
  return r;
}
}  // namespace

int main(int argc, char** argv) {
  const int64_t hidden = argc > 1 ? std::atoll(argv[1]) : 64;
  std::vector<int64_t> sizes{2048, 4096, 8192, 16384};
  if (argc > 2) {
    sizes.clear();
    std::stringstream ss(argv[2]);
    for (std::string t; std::getline(ss, t, ',');) sizes.push_back(std::stoll(t));
  }
  const int64_t chunk = argc > 3 ? std::atoll(argv[3]) : 1024;
  const int64_t naive_max = argc > 4 ? std::atoll(argv[4]) : 8192;
  g_logprobs = argc > 5 && std::string(argv[5]) == "logprobs";
  at::set_num_threads(std::max(1, at::get_num_threads()));
  std::printf("loss step (LM head + %s, fwd+bwd), vocab %lld, hidden %lld, fp32, chunk %lld\n",
              g_logprobs ? "per-token log-probs" : "CE", (long long)kVocab,
              (long long)hidden, (long long)chunk);
  std::printf("%8s %14s %14s %8s %10s %10s\n", "tokens", "naive MB", "chunked MB", "ratio", "naive s", "chunked s");
  for (int64_t n : sizes) {
    Result a = n <= naive_max ? run(false, n, hidden, chunk) : Result{}, b = run(true, n, hidden, chunk);
    std::printf("%8lld %14.0f %14.0f %7.1fx %10.2f %10.2f   (loss %.4f vs %.4f)\n", (long long)n, a.peak_mb, b.peak_mb,
                a.peak_mb > 0 && b.peak_mb > 0 ? a.peak_mb / b.peak_mb : 0.0, a.seconds, b.seconds, a.loss, b.loss);
  }
  std::printf("(-1 MB: not run above naive_max_tokens = %lld, or killed for lack of memory)\n", (long long)naive_max);
  return 0;
}
