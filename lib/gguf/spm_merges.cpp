#include "gguf/spm_merges.h"

#include <algorithm>
#include <tuple>
#include <unordered_map>

#include "tokenizer/unicode.h"

namespace pt::gguf {

namespace {
struct Merge {
  std::string left, right;
  double score;
  size_t left_chars, right_chars;
};

size_t chars(const std::string& s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++n) {
    size_t len = 0;
    tok::utf8_decode(s, i, &len);
    i += std::max<size_t>(len, 1);
  }
  return n;
}
}  // namespace

std::vector<std::pair<std::string, std::string>> spm_merges(const std::vector<std::string>& tokens,
                                                            const std::vector<float>& scores) {
  // A token listed twice: its last id and score count, its first place in the order (a Python dict's).
  std::unordered_map<std::string, int64_t> id;
  std::unordered_map<std::string, double> score;
  std::vector<const std::string*> order;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (!id.count(tokens[i])) order.push_back(&tokens[i]);
    id[tokens[i]] = static_cast<int64_t>(i);
    score[tokens[i]] = scores[i];
  }
  std::vector<Merge> merges;
  for (const std::string* t : order) {
    std::vector<Merge> local;
    for (size_t at = 0; at < t->size();) {
      size_t len = 0;
      tok::utf8_decode(*t, at, &len);
      at += std::max<size_t>(len, 1);
      if (at >= t->size()) break;
      std::string l = t->substr(0, at), r = t->substr(at);
      if (id.count(l) && id.count(r)) local.push_back({l, r, score[*t], chars(l), chars(r)});
    }
    std::stable_sort(local.begin(), local.end(), [&](const Merge& a, const Merge& b) {
      return std::make_pair(id[a.left], id[a.right]) < std::make_pair(id[b.left], id[b.right]);
    });
    for (auto& m : local) merges.push_back(std::move(m));
  }
  std::stable_sort(merges.begin(), merges.end(), [](const Merge& a, const Merge& b) {
    return std::make_tuple(a.score, a.left_chars, a.right_chars) > std::make_tuple(b.score, b.left_chars, b.right_chars);
  });
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(merges.size());
  for (auto& m : merges) out.emplace_back(std::move(m.left), std::move(m.right));
  return out;
}

}  // namespace pt::gguf
