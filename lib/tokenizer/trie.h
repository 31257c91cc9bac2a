#pragma once
// A byte trie over token strings: every prefix match from a position (Unigram's lattice) and the
// longest one (added tokens, leftmost-longest like HF's aho-corasick).
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pt::tok {

class ByteTrie {
 public:
  void add(const std::string& s, int32_t value) {
    size_t node = 0;
    for (unsigned char c : s) {
      auto it = nodes_[node].next.find(c);
      if (it == nodes_[node].next.end()) {
        nodes_.push_back({});
        it = nodes_[node].next.emplace(c, nodes_.size() - 1).first;
      }
      node = it->second;
    }
    if (nodes_[node].value < 0) nodes_[node].value = value;  // first writer wins (duplicate pieces)
  }
  // f(end_pos, value) for every stored string that starts at `pos`, shortest first.
  template <class F>
  void for_each_prefix(std::string_view s, size_t pos, F&& f) const {
    size_t node = 0;
    for (size_t i = pos; i < s.size(); ++i) {
      auto it = nodes_[node].next.find(static_cast<unsigned char>(s[i]));
      if (it == nodes_[node].next.end()) return;
      node = it->second;
      if (nodes_[node].value >= 0) f(i + 1, nodes_[node].value);
    }
  }
  // Longest match at pos: (length, value) or (0, -1).
  std::pair<size_t, int32_t> longest(std::string_view s, size_t pos) const {
    std::pair<size_t, int32_t> best{0, -1};
    for_each_prefix(s, pos, [&](size_t end, int32_t v) { best = {end - pos, v}; });
    return best;
  }
  bool empty() const { return nodes_.size() == 1; }

 private:
  struct Node {
    std::map<unsigned char, size_t> next;
    int32_t value = -1;
  };
  std::vector<Node> nodes_{Node{}};
};

}  // namespace pt::tok
