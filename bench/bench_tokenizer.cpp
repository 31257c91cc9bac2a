// Encode throughput of our tokenizer.json engine on a corpus, single-threaded and batched on all
// cores. scripts/bench_tokenizer.sh runs HF `tokenizers` on the same corpus and prints the ratios.
//   bench_tokenizer TOKENIZER_JSON[.zst] CORPUS[.zst] [repeats]
#include <chrono>
#include <cstdio>
#include <sstream>
#include <thread>

#include "core/compressed.h"
#include "tokenizer/tokenizer.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s TOKENIZER_JSON CORPUS [repeats]\n", argv[0]);
    return 2;
  }
  auto tok = pt::tok::Tokenizer::from_json_string(pt::read_file(argv[1]), argv[1]);
  std::vector<std::string> lines;
  size_t bytes = 0;
  {
    std::istringstream in(pt::read_file(argv[2]));
    for (std::string l; std::getline(in, l);) bytes += l.size(), lines.push_back(std::move(l));
  }
  int repeats = argc > 3 ? std::atoi(argv[3]) : 1;
  using clock = std::chrono::steady_clock;
  // Warm-up pass fills the BPE word cache, as a long-running data loader would have it.
  size_t tokens = 0;
  for (const auto& l : lines) tokens += tok.encode(l, false).ids.size();
  auto t0 = clock::now();
  for (int r = 0; r < repeats; ++r)
    for (const auto& l : lines) tok.encode(l, false);
  double single = std::chrono::duration<double>(clock::now() - t0).count() / repeats;
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  auto t1 = clock::now();
  for (int r = 0; r < repeats; ++r) tok.encode_batch(lines, false, threads);
  double batch = std::chrono::duration<double>(clock::now() - t1).count() / repeats;
  std::printf("ours  single  %8.2f MB/s  %10.0f tokens/s\n", bytes / single / 1e6, tokens / single);
  std::printf("ours  batch%-2d %8.2f MB/s  %10.0f tokens/s\n", threads, bytes / batch / 1e6, tokens / batch);
  std::printf("RESULT single_s=%.6f batch_s=%.6f bytes=%zu tokens=%zu threads=%d\n", single, batch, bytes, tokens,
              threads);
  return 0;
}
