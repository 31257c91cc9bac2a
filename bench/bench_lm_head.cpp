// LM-head cost against vocabulary padding (issue: speed, point 5), for real vocabulary sizes as they
// are and padded up to a multiple of 64, timed in the same run: forward + backward of the plain
// projection x @ W^T (grads of x and W), and of what training runs, the chunked cross-entropy
// (algo/losses.h; 1,024-token chunks). What `model.vocab_pad_multiple` (default 64) trades: up to
// 63 extra rows against the GEMM shapes the BLAS / tensor cores prefer.
//   bench_lm_head [cpu|cuda] [tokens] [hidden]
//   defaults: cpu 1024 tokens x 512 hidden fp32 (~1 minute on 2 cores); cuda 16384 x 2048 bf16
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <vector>

#include "algo/losses.h"

namespace {
// Seconds per forward + backward; `ce`: the chunked cross-entropy over the real vocabulary, with
// `rows` weight rows (rows > vocab: the padding the model adds).
double time_head(int64_t tokens, int64_t hidden, int64_t vocab, int64_t rows, bool ce, at::Device dev,
                 at::ScalarType dt, int reps) {
  auto opts = at::TensorOptions().device(dev).dtype(dt);
  auto x = at::randn({tokens, hidden}, opts).requires_grad_(true);
  auto w = (at::randn({rows, hidden}, opts) * 0.02).requires_grad_(true);
  auto gy = ce ? at::Tensor() : at::randn({tokens, rows}, opts);
  auto labels = at::randint(0, vocab, {tokens}, opts.dtype(at::kLong));
  auto step = [&] {
    if (ce) {
      pt::algo::chunked_cross_entropy(x, w, labels, vocab, 1024).backward();
    } else {
      at::matmul(x, w.t()).backward(gy);
    }
    x.mutable_grad() = at::Tensor();
    w.mutable_grad() = at::Tensor();
  };
  auto sync = [&] {
    if (dev.is_cuda()) torch::cuda::synchronize();
  };
  step();
  sync();
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) step();
  sync();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
}
}  // namespace

int main(int argc, char** argv) {
  const bool cuda = argc > 1 && std::string(argv[1]) == "cuda";
  if (cuda && !torch::cuda::is_available()) {
    std::fprintf(stderr, "no CUDA device visible\n");
    return 1;
  }
  const int64_t tokens = argc > 2 ? std::atoll(argv[2]) : (cuda ? 16384 : 1024);
  const int64_t hidden = argc > 3 ? std::atoll(argv[3]) : (cuda ? 2048 : 512);
  const at::Device dev = cuda ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
  const at::ScalarType dt = cuda ? at::kBFloat16 : at::kFloat;
  const int reps = cuda ? 20 : 2;
  // Vocabularies of real tokenizers that are not multiples of 64 (Llama 2 + 1 added token, StarCoder,
  // the Qwen3 tokenizer's 151,669); Llama 3's 128,256 already is one.
  const std::vector<int64_t> vocabs =
      cuda ? std::vector<int64_t>{32001, 49153, 128256, 151669} : std::vector<int64_t>{32001, 49153, 151669};
  std::printf("LM head x[%lld, %lld] @ W^T, forward + backward, %s %s, %d threads, %d reps\n", (long long)tokens,
              (long long)hidden, cuda ? "cuda" : "cpu", cuda ? "bf16" : "fp32", at::get_num_threads(), reps);
  std::printf("%-14s %-8s %-8s %11s %11s %8s %14s\n", "op", "vocab", "padded", "as is ms", "padded ms", "ratio",
              "padded GFLOP/s");
  for (bool ce : {false, true})
    for (int64_t v : vocabs) {
      const int64_t padded = (v + 63) / 64 * 64;
      const double a = time_head(tokens, hidden, v, v, ce, dev, dt, reps);
      const double b = padded == v ? a : time_head(tokens, hidden, v, padded, ce, dev, dt, reps);
      const double flops = 6.0 * tokens * hidden * padded;
      std::printf("%-14s %-8lld %-8lld %11.2f %11.2f %7.2fx %14.1f\n", ce ? "chunked CE" : "x @ W^T", (long long)v,
                  (long long)padded, a * 1e3, b * 1e3, a / b, flops / b / 1e9);
      std::fflush(stdout);
    }
  return 0;
}
