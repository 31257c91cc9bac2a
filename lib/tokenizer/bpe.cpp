#include "tokenizer/bpe.h"

#include <queue>

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace pt::tok {

namespace {
uint64_t pair_key(int32_t a, int32_t b) { return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b); }
std::string opt_string(const nlohmann::json& m, const char* key) {
  return m.contains(key) && m[key].is_string() ? m[key].get<std::string>() : std::string();
}
bool opt_bool(const nlohmann::json& m, const char* key) { return m.contains(key) && m[key].is_boolean() && m[key].get<bool>(); }
}  // namespace

Bpe::Bpe(const nlohmann::json& m, const std::string& where) {
  if (!m.contains("vocab") || !m["vocab"].is_object()) fail("{}: BPE model needs a 'vocab' object", where);
  if (!m.contains("merges") || !m["merges"].is_array()) fail("{}: BPE model needs a 'merges' list", where);
  int32_t max_id = -1;
  for (auto it = m["vocab"].begin(); it != m["vocab"].end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0)
      fail("{}.vocab['{}']: expected a non-negative integer id", where, it.key());
    int32_t id = it.value().get<int32_t>();
    vocab_[it.key()] = id;
    max_id = std::max(max_id, id);
  }
  id_to_token_.assign(static_cast<size_t>(max_id + 1), nullptr);
  for (const auto& [t, id] : vocab_) id_to_token_[static_cast<size_t>(id)] = &t;
  prefix_ = opt_string(m, "continuing_subword_prefix");
  suffix_ = opt_string(m, "end_of_word_suffix");
  unk_token_ = opt_string(m, "unk_token");
  byte_fallback_ = opt_bool(m, "byte_fallback");
  fuse_unk_ = opt_bool(m, "fuse_unk");
  ignore_merges_ = opt_bool(m, "ignore_merges");
  if (!unk_token_.empty()) {
    auto it = vocab_.find(unk_token_);
    if (it == vocab_.end()) fail("{}.unk_token: '{}' is not in the vocabulary", where, unk_token_);
    unk_id_ = it->second;
  }
  for (int b = 0; b < 256; ++b) {
    auto it = vocab_.find(fmt::format("<0x{:02X}>", b));
    byte_ids_[b] = it == vocab_.end() ? -1 : it->second;
  }
  const auto& merges = m["merges"];
  for (size_t r = 0; r < merges.size(); ++r) {
    std::string a, b;
    const auto& e = merges[r];
    if (e.is_string()) {
      const std::string& s = e.get_ref<const std::string&>();
      auto sp = s.find(' ');
      if (sp == std::string::npos) fail("{}.merges[{}]: '{}' is not 'a b'", where, r, s);
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
      a = e[0].get<std::string>();
      b = e[1].get<std::string>();
    } else {
      fail("{}.merges[{}]: expected \"a b\" or [a, b]", where, r);
    }
    auto ia = vocab_.find(a), ib = vocab_.find(b);
    std::string merged = a + (prefix_.empty() || b.compare(0, prefix_.size(), prefix_) != 0 ? b : b.substr(prefix_.size()));
    auto im = vocab_.find(merged);
    if (ia == vocab_.end() || ib == vocab_.end() || im == vocab_.end())
      fail("{}.merges[{}]: '{}' + '{}' refers to tokens missing from the vocabulary", where, r, a, b);
    merges_.emplace(pair_key(ia->second, ib->second), std::make_pair(static_cast<int32_t>(r), im->second));
  }
}

int32_t Bpe::token_to_id(const std::string& t) const {
  auto it = vocab_.find(t);
  return it == vocab_.end() ? -1 : it->second;
}

const std::string* Bpe::id_to_token(int32_t id) const {
  return id >= 0 && static_cast<size_t>(id) < id_to_token_.size() ? id_to_token_[static_cast<size_t>(id)] : nullptr;
}

void Bpe::tokenize(const std::string& word, std::vector<ModelToken>& out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    auto it = vocab_.find(word);
    if (it != vocab_.end()) {
      out.push_back({it->second, 0, static_cast<uint32_t>(word.size())});
      return;
    }
  }
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = cache_.find(word);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<ModelToken> toks;
  merge_word(word, toks);
  if (word.size() < 256) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (cache_.size() > 200000) cache_.clear();
    cache_.emplace(word, toks);
  }
  out.insert(out.end(), toks.begin(), toks.end());
}

// The hot loop of encoding (symbols, a merge heap, byte fallback, dropout) kept in one piece: its
// state is shared by every step and splitting it would pass all of it around.
void Bpe::merge_word(const std::string& w, std::vector<ModelToken>& out) const {
  struct Sym {
    int32_t id;
    uint32_t begin, end;
    int prev, next;
  };
  std::vector<Sym> syms;
  int32_t pend_unk = -1;
  uint32_t pend_begin = 0, pend_end = 0;
  auto push = [&](int32_t id, uint32_t b, uint32_t e) {
    int idx = static_cast<int>(syms.size());
    syms.push_back({id, b, e, idx - 1, -1});
    if (idx > 0) syms[static_cast<size_t>(idx - 1)].next = idx;
  };
  auto flush_unk = [&] {
    if (pend_unk >= 0) push(pend_unk, pend_begin, pend_end);
    pend_unk = -1;
  };
  size_t i = 0;
  while (i < w.size()) {
    size_t len = std::min(utf8_len(static_cast<unsigned char>(w[i])), w.size() - i);
    size_t end = i + len;
    std::string s = w.substr(i, len);
    if (i > 0 && !prefix_.empty()) s = prefix_ + s;
    if (end == w.size() && !suffix_.empty()) s += suffix_;
    auto it = vocab_.find(s);
    if (it != vocab_.end()) {
      flush_unk();
      push(it->second, static_cast<uint32_t>(i), static_cast<uint32_t>(end));
    } else {
      bool done = false;
      if (byte_fallback_) {
        bool all = true;
        for (unsigned char b : s) all = all && byte_ids_[b] >= 0;
        if (all) {
          flush_unk();
          // Each byte token covers one byte of the character (HF gives them length 1).
          uint32_t pos = static_cast<uint32_t>(i);
          for (unsigned char b : s) {
            push(byte_ids_[b], std::min<uint32_t>(pos, static_cast<uint32_t>(end)),
                 std::min<uint32_t>(pos + 1, static_cast<uint32_t>(end)));
            ++pos;
          }
          done = true;
        }
      }
      if (!done && unk_id_ >= 0) {
        if (pend_unk >= 0 && fuse_unk_) {
          pend_end = static_cast<uint32_t>(end);
        } else {
          flush_unk();
          pend_unk = unk_id_;
          pend_begin = static_cast<uint32_t>(i);
          pend_end = static_cast<uint32_t>(end);
        }
      }
    }
    i = end;
  }
  flush_unk();

  struct Merge {
    int32_t rank;
    int pos;
    int32_t new_id;
    bool operator<(const Merge& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Merge> q;
  for (size_t k = 0; k + 1 < syms.size(); ++k) {
    auto it = merges_.find(pair_key(syms[k].id, syms[k + 1].id));
    if (it != merges_.end()) q.push({it->second.first, static_cast<int>(k), it->second.second});
  }
  while (!q.empty()) {
    Merge top = q.top();
    q.pop();
    Sym& cur = syms[static_cast<size_t>(top.pos)];
    if (cur.id == -2) continue;  // merged into its left neighbour
    if (cur.next < 0) continue;
    Sym& right = syms[static_cast<size_t>(cur.next)];
    auto it = merges_.find(pair_key(cur.id, right.id));
    if (it == merges_.end() || it->second.second != top.new_id) continue;  // stale entry
    cur.id = top.new_id;
    cur.end = right.end;
    int right_next = right.next;
    right.id = -2;
    right.begin = right.end;
    cur.next = right_next;
    if (right_next >= 0) syms[static_cast<size_t>(right_next)].prev = top.pos;
    if (cur.prev >= 0) {
      auto p = merges_.find(pair_key(syms[static_cast<size_t>(cur.prev)].id, cur.id));
      if (p != merges_.end()) q.push({p->second.first, cur.prev, p->second.second});
    }
    if (cur.next >= 0) {
      auto n = merges_.find(pair_key(cur.id, syms[static_cast<size_t>(cur.next)].id));
      if (n != merges_.end()) q.push({n->second.first, top.pos, n->second.second});
    }
  }
  for (const auto& s : syms)
    if (s.id != -2) out.push_back({s.id, s.begin, s.end});
}

}  // namespace pt::tok
