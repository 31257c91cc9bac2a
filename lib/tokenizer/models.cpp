// Unigram (SentencePiece's model) with HF tokenizers' semantics: Viterbi over byte positions at
// character boundaries maximizing the summed piece scores; characters no piece covers become UNK
// with score min_score - 10; consecutive UNKs fused; optional byte fallback.
#include <limits>
#include <map>
#include <unordered_map>

#include "core/error.h"
#include "tokenizer/bpe.h"
#include "tokenizer/model.h"
#include "tokenizer/trie.h"
#include "tokenizer/unicode.h"

namespace pt::tok {

namespace {

class Unigram : public Model {
 public:
  Unigram(const nlohmann::json& m, const std::string& where) {
    const auto& vocab = m.at("vocab");
    if (!vocab.is_array()) fail("{}: Unigram 'vocab' must be a list of [piece, score]", where);
    for (size_t i = 0; i < vocab.size(); ++i) {
      if (!vocab[i].is_array() || vocab[i].size() != 2 || !vocab[i][0].is_string() || !vocab[i][1].is_number())
        fail("{}: vocab[{}] must be [piece, score]", where, i);
      pieces_.push_back(vocab[i][0].get<std::string>());
      scores_.push_back(vocab[i][1].get<double>());
      ids_.emplace(pieces_.back(), static_cast<int32_t>(i));
      min_score_ = std::min(min_score_, scores_.back());
      trie_.add(pieces_.back(), static_cast<int32_t>(i));
    }
    if (m.contains("unk_id") && m["unk_id"].is_number_integer()) unk_id_ = m["unk_id"].get<int32_t>();
    byte_fallback_ = m.value("byte_fallback", false);
    fuse_unk_ = true;
  }

  void tokenize(const std::string& s, std::vector<ModelToken>& out) const override {
    if (s.empty()) return;
    struct Node {
      int32_t id = -1;
      double score = 0;
      int64_t start = -1;
    };
    const size_t n = s.size();
    const double unk_score = min_score_ - 10.0;
    std::vector<Node> best(n + 1);
    size_t pos = 0;
    while (pos < n) {
      double here = best[pos].score;
      size_t mblen = std::min(utf8_len(static_cast<unsigned char>(s[pos])), n - pos);
      bool single = false;
      trie_.for_each_prefix(s, pos, [&](size_t end, int32_t id) {
        double cand = scores_[static_cast<size_t>(id)] + here;
        if (best[end].start < 0 || cand > best[end].score) best[end] = {id, cand, static_cast<int64_t>(pos)};
        if (end - pos == mblen) single = true;
      });
      if (!single) {
        if (unk_id_ < 0) fail("Unigram model has no unk_id but the input has characters outside its vocabulary");
        double cand = unk_score + here;
        Node& t = best[pos + mblen];
        if (t.start < 0 || cand > t.score) t = {unk_id_, cand, static_cast<int64_t>(pos)};
      }
      pos += mblen;
    }
    std::vector<std::pair<size_t, size_t>> spans;  // reversed
    size_t end = n;
    size_t unk_end = 0;
    bool in_unk = false;
    while (end > 0) {
      const Node& nd = best[end];
      size_t start = static_cast<size_t>(nd.start);
      if (fuse_unk_ && unk_id_ >= 0 && nd.id == unk_id_) {
        if (!in_unk) unk_end = end, in_unk = true;
      } else {
        if (in_unk) spans.emplace_back(end, unk_end), in_unk = false;
        spans.emplace_back(start, end);
      }
      end = start;
    }
    if (in_unk) spans.emplace_back(0, unk_end);
    for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
      std::string piece = s.substr(it->first, it->second - it->first);
      auto found = ids_.find(piece);
      uint32_t b = static_cast<uint32_t>(it->first), e = static_cast<uint32_t>(it->second);
      if (found != ids_.end()) {
        out.push_back({found->second, b, e});
        continue;
      }
      if (byte_fallback_) {
        std::vector<int32_t> bytes;
        for (unsigned char c : piece) {
          auto f = ids_.find(fmt::format("<0x{:02X}>", c));
          if (f == ids_.end()) break;
          bytes.push_back(f->second);
        }
        if (bytes.size() == piece.size()) {
          for (int32_t id : bytes) out.push_back({id, b, e});
          continue;
        }
      }
      out.push_back({unk_id_, b, e});
    }
  }

  int32_t token_to_id(const std::string& t) const override {
    auto it = ids_.find(t);
    return it == ids_.end() ? -1 : it->second;
  }
  const std::string* id_to_token(int32_t id) const override {
    return id >= 0 && static_cast<size_t>(id) < pieces_.size() ? &pieces_[static_cast<size_t>(id)] : nullptr;
  }
  size_t vocab_size() const override { return pieces_.size(); }

 private:
  ByteTrie trie_;
  std::vector<std::string> pieces_;
  std::vector<double> scores_;
  std::unordered_map<std::string, int32_t> ids_;
  double min_score_ = std::numeric_limits<double>::infinity();
  int32_t unk_id_ = -1;
  bool byte_fallback_ = false, fuse_unk_ = true;
};

// WordPiece: greedy longest match first, continuation pieces prefixed ("##"); a word with any
// unmatched remainder, or longer than max_input_chars_per_word, is one UNK.
class WordPiece : public Model {
 public:
  WordPiece(const nlohmann::json& m, const std::string& where) {
    const auto& vocab = m.at("vocab");
    if (!vocab.is_object()) fail("{}: WordPiece 'vocab' must be an object", where);
    int32_t max_id = -1;
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
      int32_t id = it.value().get<int32_t>();
      vocab_[it.key()] = id;
      max_id = std::max(max_id, id);
    }
    by_id_.assign(static_cast<size_t>(max_id + 1), nullptr);
    for (const auto& [t, id] : vocab_) by_id_[static_cast<size_t>(id)] = &t;
    unk_ = m.value("unk_token", std::string("[UNK]"));
    prefix_ = m.value("continuing_subword_prefix", std::string("##"));
    max_chars_ = m.value("max_input_chars_per_word", 100);
    if (!vocab_.count(unk_)) fail("{}: unk_token '{}' is not in the vocabulary", where, unk_);
  }
  void tokenize(const std::string& s, std::vector<ModelToken>& out) const override {
    size_t chars = 0;
    for (size_t i = 0; i < s.size(); i += utf8_len(static_cast<unsigned char>(s[i]))) ++chars;
    uint32_t all = static_cast<uint32_t>(s.size());
    if (chars > max_chars_) {
      out.push_back({vocab_.at(unk_), 0, all});
      return;
    }
    std::vector<ModelToken> subs;
    size_t start = 0;
    while (start < s.size()) {
      size_t end = s.size();
      int32_t found = -1;
      while (start < end) {
        std::string sub = (start > 0 ? prefix_ : std::string()) + s.substr(start, end - start);
        auto it = vocab_.find(sub);
        if (it != vocab_.end()) {
          found = it->second;
          break;
        }
        size_t k = end - 1;
        while (k > start && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
        end = k;
      }
      if (found < 0) {
        out.push_back({vocab_.at(unk_), 0, all});
        return;
      }
      subs.push_back({found, static_cast<uint32_t>(start), static_cast<uint32_t>(end)});
      start = end;
    }
    out.insert(out.end(), subs.begin(), subs.end());
  }
  int32_t token_to_id(const std::string& t) const override {
    auto it = vocab_.find(t);
    return it == vocab_.end() ? -1 : it->second;
  }
  const std::string* id_to_token(int32_t id) const override {
    return id >= 0 && static_cast<size_t>(id) < by_id_.size() ? by_id_[static_cast<size_t>(id)] : nullptr;
  }
  size_t vocab_size() const override { return vocab_.size(); }

 private:
  std::unordered_map<std::string, int32_t> vocab_;
  std::vector<const std::string*> by_id_;
  std::string unk_, prefix_;
  size_t max_chars_ = 100;
};

}  // namespace

std::unique_ptr<Model> make_model(const nlohmann::json& m, const std::string& where) {
  if (!m.is_object()) fail("{}: expected an object", where);
  std::string type = m.contains("type") && m["type"].is_string() ? m["type"].get<std::string>() : "BPE";
  try {
    if (type == "BPE") return std::make_unique<Bpe>(m, where);
    if (type == "Unigram") return std::make_unique<Unigram>(m, where);
    if (type == "WordPiece") return std::make_unique<WordPiece>(m, where);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: malformed {} model: {}", where, type, e.what());
  }
  fail("{}: model.type '{}' is not supported (supported: BPE, Unigram, WordPiece)", where, type);
}

}  // namespace pt::tok
