// Packer benchmark (issue: data pipeline).
//  1. Throughput of the whole stream -> packer path on one core (no background thread), on
//     pre-tokenized records so the tokenizer is not what is measured: tokens/s.
//  2. Effective-token ratio of best-fit packing vs one document per row (padded to seq_len) and vs
//     dynamic padding (batches of 8 documents padded to their longest), on a skewed lognormal length
//     distribution (median ~245, mean ~400, clipped to 16..4096).
//  3. With a tokenizer directory and a text corpus (one sentence per line, .zst ok): the full chat
//     path — chat template, tokenization, loss masks, packing — on one core, in tokens/s.
//   bench_packer [num_docs=20000] [seq_len=4096] [pack_window=256] [tokenizer_dir corpus]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/compressed.h"
#include "data/loader.h"
#include "tokenizer/hf_tokenizer.h"

using namespace pt;

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 20000;
  const int seq_len = argc > 2 ? std::atoi(argv[2]) : 4096;
  const int window = argc > 3 ? std::atoi(argv[3]) : 256;
  // lognormal: median = e^mu = 245; mean = e^(mu + s^2/2) = 400  =>  s^2 = 2 ln(400/245)
  const double mu = std::log(245.0), sigma = std::sqrt(2 * std::log(400.0 / 245.0));
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(mu, sigma);
  std::vector<int> lens;
  std::string path = (std::filesystem::temp_directory_path() / "pt-bench-packer.jsonl").string();
  {
    std::ofstream f(path);
    for (int i = 0; i < n; ++i) {
      int len = std::clamp(static_cast<int>(std::lround(dist(rng))), 16, 4096);
      lens.push_back(len);
      std::string line = "{\"ids\":[";
      for (int k = 0; k < len; ++k) {
        line += std::to_string((i * 31 + k * 7) % 50000);
        line += k + 1 < len ? "," : "]}\n";
      }
      f << line;
    }
  }
  std::vector<int> sorted = lens;
  std::sort(sorted.begin(), sorted.end());
  double mean = 0;
  for (int l : lens) mean += l;
  mean /= n;
  std::printf("documents: %d, length median %d, mean %.0f, max %d; seq_len %d, pack_window %d\n", n, sorted[n / 2], mean,
              sorted.back(), seq_len, window);

  auto measure = [&](bool packing, double* seconds) {
    data::DataOptions o;
    data::SourceOptions s;
    s.path = path;
    s.format = data::Format::TokenIds;
    o.sources = {s};
    o.seq_len = seq_len;
    o.packing = packing;
    o.pack_window = window;
    data::DataSet ds(o, nullptr, {}, 1);
    data::LoaderOptions lo;
    lo.prefetch_steps = 0;  // one core: production on the calling thread
    lo.drop_last = false;
    auto t0 = std::chrono::steady_clock::now();
    data::Loader l(ds, data::DocStream::Split::Train, lo);
    int64_t rows = 0, tokens = 0;
    while (auto b = l.next())
      for (const auto& r : b->rows) ++rows, tokens += r.num_tokens;
    *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return std::make_pair(rows, tokens);
  };
  double tp = 0, tu = 0;
  auto [prow, ptok] = measure(true, &tp);
  auto [urow, utok] = measure(false, &tu);
  const double eff_packed = double(ptok) / (double(prow) * seq_len);
  const double eff_padded = double(utok) / (double(urow) * seq_len);
  // Dynamic padding: batches of 8 documents in stream order, each padded to its longest.
  double dyn_total = 0;
  for (size_t b = 0; b < lens.size(); b += 8) {
    int mx = 0;
    for (size_t i = b; i < std::min(lens.size(), b + 8); ++i) mx = std::max(mx, lens[i]);
    dyn_total += double(mx) * (std::min(lens.size(), b + 8) - b);
  }
  const double eff_dyn = double(ptok) / dyn_total;
  std::printf("throughput (JSON ids -> packed rows, one core): %.2f M tokens/s packed (%.2fs), %.2f M tokens/s padded\n",
              ptok / tp / 1e6, tp, utok / tu / 1e6);
  std::printf("effective tokens: packed %.1f%% (%lld rows), padded-to-seq_len %.1f%% (%lld rows), dynamic padding %.1f%%\n",
              100 * eff_packed, (long long)prow, 100 * eff_padded, (long long)urow, 100 * eff_dyn);
  std::printf("ratio packed / padded-to-seq_len: %.2fx; packed / dynamic padding (batches of 8): %.2fx\n",
              eff_packed / eff_padded, eff_packed / eff_dyn);
  std::filesystem::remove(path);
  if (argc > 5) {
    // Chat records: a user turn and an assistant answer of a few corpus sentences each.
    std::vector<std::string> sentences;
    std::string text = read_file(argv[5]);
    for (size_t b = 0, e; b < text.size(); b = e + 1) {
      e = text.find('\n', b);
      if (e == std::string::npos) e = text.size();
      if (e > b) sentences.push_back(text.substr(b, e - b));
    }
    std::string chat = (std::filesystem::temp_directory_path() / "pt-bench-chat.jsonl").string();
    {
      std::ofstream f(chat);
      size_t at = 0;
      for (int i = 0; i < n / 4; ++i) {
        std::string q, a;
        for (int k = 0; k < 1 + i % 3; ++k) q += sentences[at++ % sentences.size()] + " ";
        for (int k = 0; k < 2 + i % 7; ++k) a += sentences[at++ % sentences.size()] + " ";
        nlohmann::json rec{{"messages", {{{"role", "user"}, {"content", q}}, {{"role", "assistant"}, {"content", a}}}}};
        f << rec.dump() << "\n";
      }
    }
    auto tok = tok::HfTokenizer::from_dir(argv[4]);
    data::DataOptions o;
    data::SourceOptions src;
    src.path = chat;
    o.sources = {src};
    o.seq_len = seq_len;
    o.pack_window = window;
    data::DataSet ds(o, &tok, {}, 1);
    data::LoaderOptions lo;
    lo.prefetch_steps = 0;
    lo.drop_last = false;
    auto t0 = std::chrono::steady_clock::now();
    data::Loader l(ds, data::DocStream::Split::Train, lo);
    int64_t tokens = 0, trained = 0;
    while (auto b = l.next())
      for (const auto& r : b->rows) tokens += r.num_tokens, trained += r.num_trained;
    double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("chat path (template + tokenize + masks + pack, one core, %s): %.2f M tokens/s (%lld tokens, %.0f%% trained, %.2fs)\n",
                argv[4], tokens / sec / 1e6, (long long)tokens, 100.0 * trained / tokens, sec);
    std::filesystem::remove(chat);
  }
  return 0;
}
