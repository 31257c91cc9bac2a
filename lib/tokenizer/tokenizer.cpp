#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <unordered_map>

#include <nlohmann/json.hpp>
#include <sentencepiece_processor.h>
#include <utf8proc.h>

#include "core/compressed.h"
#include "core/error.h"
#include "tokenizer/bpe.h"
#include "tokenizer/components.h"
#include "tokenizer/trie.h"
#include "tokenizer/unicode.h"

namespace pt::tok {

using nlohmann::json;

namespace {

bool is_word_char(char32_t c) {
  auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return c == '_' || (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
         (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO);
}

struct Piece {
  NormalizedString s;
  int32_t added = -1;  // index into the added-token table, or -1 for text still to tokenize
};

}  // namespace

struct Tokenizer::Impl {
  std::string origin;
  std::string raw_json;
  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<Model> model;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp;  // set for tokenizer.model files
  std::unique_ptr<PostProcessor> post;
  std::unique_ptr<Decoder> decoder;
  struct Added {
    AddedToken tok;
    int32_t id;
  };
  std::vector<Added> added;
  std::unordered_map<int32_t, size_t> added_by_id;
  std::unordered_map<std::string, size_t> added_by_content;
  ByteTrie raw_trie, normalized_trie;

  void rebuild_tries() {
    raw_trie = ByteTrie();
    normalized_trie = ByteTrie();
    for (size_t i = 0; i < added.size(); ++i) {
      const auto& a = added[i].tok;
      if (a.content.empty()) continue;
      if (a.normalized) {
        NormalizedString n = NormalizedString::from_original(a.content);
        if (normalizer) normalizer->normalize(n);
        normalized_trie.add(n.text, static_cast<int32_t>(i));
      } else {
        raw_trie.add(a.content, static_cast<int32_t>(i));
      }
    }
  }

  // Splits `s` around added-token matches (with single_word / lstrip / rstrip semantics).
  void split_added(const NormalizedString& s, const ByteTrie& trie, std::vector<Piece>& out) const {
    if (trie.empty()) {
      out.push_back({s, -1});
      return;
    }
    const std::string& t = s.text;
    size_t last = 0, i = 0;
    while (i < t.size()) {
      auto [len, idx] = trie.longest(t, i);
      if (len == 0) {
        ++i;
        continue;
      }
      const AddedToken& a = added[static_cast<size_t>(idx)].tok;
      size_t start = i, stop = i + len;
      if (a.single_word) {
        bool ok = true;
        if (start > 0) {
          size_t k = start - 1;
          while (k > 0 && (static_cast<unsigned char>(t[k]) & 0xC0) == 0x80) --k;
          size_t l;
          ok = ok && !is_word_char(utf8_decode(t, k, &l));
        }
        if (stop < t.size()) {
          size_t l;
          ok = ok && !is_word_char(utf8_decode(t, stop, &l));
        }
        if (!ok) {
          ++i;
          continue;
        }
      }
      if (a.lstrip)
        while (start > last) {
          size_t k = start - 1;
          while (k > last && (static_cast<unsigned char>(t[k]) & 0xC0) == 0x80) --k;
          size_t l;
          if (!is_whitespace(utf8_decode(t, k, &l))) break;
          start = k;
        }
      if (a.rstrip)
        while (stop < t.size()) {
          size_t l;
          if (!is_whitespace(utf8_decode(t, stop, &l))) break;
          stop += l;
        }
      if (start > last) out.push_back({s.slice(last, start), -1});
      out.push_back({s.slice(start, stop), idx});
      last = i = stop;
    }
    if (last < t.size()) out.push_back({s.slice(last, t.size()), -1});
  }

  Encoding encode_sp(std::string_view text, bool add_special) const {
    Encoding enc;
    if (add_special && sp->bos_id() >= 0) enc.ids.push_back(sp->bos_id()), enc.offsets.emplace_back(0, 0), enc.special.push_back(1);
    auto proto = sp->EncodeAsImmutableProto(std::string(text));
    for (int i = 0; i < proto.pieces_size(); ++i) {
      auto p = proto.pieces(i);
      enc.ids.push_back(static_cast<int32_t>(p.id()));
      enc.offsets.emplace_back(p.begin(), p.end());
      enc.special.push_back(sp->IsControl(static_cast<int>(p.id())) ? 1 : 0);
    }
    return enc;
  }

  Encoding encode(std::string_view text, bool add_special) const {
    if (sp) return encode_sp(text, add_special);
    Encoding enc;
    std::vector<int32_t> before, after;
    if (add_special && post) post->wrap(before, after);
    for (int32_t id : before) enc.ids.push_back(id), enc.offsets.emplace_back(0, 0), enc.special.push_back(1);

    std::vector<Piece> first;
    split_added(NormalizedString::from_original(std::string(text)), raw_trie, first);
    std::vector<ModelToken> toks;
    for (auto& p : first) {
      if (p.added >= 0) {
        emit_added(p, enc);
        continue;
      }
      if (normalizer) normalizer->normalize(p.s);
      std::vector<Piece> second;
      split_added(p.s, normalized_trie, second);
      for (auto& q : second) {
        if (q.added >= 0) {
          emit_added(q, enc);
          continue;
        }
        std::vector<NormalizedString> pre{std::move(q.s)};
        if (pre_tokenizer) pre_tokenizer->pre_tokenize(pre);
        for (const auto& w : pre) {
          toks.clear();
          model->tokenize(w.text, toks);
          for (const auto& mt : toks) {
            enc.ids.push_back(mt.id);
            enc.offsets.push_back(w.original_span(mt.begin, mt.end));
            enc.special.push_back(0);
          }
        }
      }
    }
    uint32_t end = static_cast<uint32_t>(text.size());
    for (int32_t id : after) enc.ids.push_back(id), enc.offsets.emplace_back(end, end), enc.special.push_back(1);
    return enc;
  }

  void emit_added(const Piece& p, Encoding& enc) const {
    const auto& a = added[static_cast<size_t>(p.added)];
    enc.ids.push_back(a.id);
    enc.offsets.push_back(p.s.original_span(0, p.s.text.size()));
    enc.special.push_back(a.tok.special ? 1 : 0);
  }
};

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open tokenizer file '{}'", path);
  std::stringstream ss;
  ss << in.rdbuf();
  return from_json_string(ss.str(), path);
}

Tokenizer Tokenizer::from_sentencepiece_model(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->origin = path;
  impl->sp = std::make_unique<sentencepiece::SentencePieceProcessor>();
  auto st = impl->sp->Load(path);
  if (!st.ok()) fail("{}: not a loadable SentencePiece model: {}", path, st.ToString());
  return Tokenizer(std::move(impl));
}

std::string Tokenizer::resolve_path(const std::string& path) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(path)) return path;
  for (const char* f : {"tokenizer.json", "tokenizer.json.zst", "tokenizer.model"})
    if (fs::exists(fs::path(path) / f)) return (fs::path(path) / f).string();
  // A directory converted from a GGUF file records why its tokenizer could not be (gguf/import.h).
  if (std::ifstream why(fs::path(path) / "tokenizer_error.txt"); why) {
    std::string text((std::istreambuf_iterator<char>(why)), {});
    while (!text.empty() && text.back() == '\n') text.pop_back();
    fail("{}", text);
  }
  fail("tokenizer directory '{}' has no tokenizer.json", path);
}

Tokenizer Tokenizer::from_path(const std::string& path) {
  std::string file = resolve_path(path);
  if (file.size() >= 6 && file.compare(file.size() - 6, 6, ".model") == 0) return from_sentencepiece_model(file);
  return from_json_string(read_file(file), file);
}

Tokenizer Tokenizer::from_json_string(const std::string& text, const std::string& origin) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail("{}: not valid JSON: {}", origin, e.what());
  }
  if (!j.is_object()) fail("{}: expected a JSON object", origin);
  auto impl = std::make_unique<Impl>();
  impl->origin = origin;
  impl->raw_json = text;
  const auto& model = field(j, "model", origin);
  impl->model = make_model(model, origin + ": model");
  impl->normalizer = make_normalizer(j.value("normalizer", json()), origin + ": normalizer");
  impl->pre_tokenizer = make_pre_tokenizer(j.value("pre_tokenizer", json()), origin + ": pre_tokenizer");
  impl->decoder = make_decoder(j.value("decoder", json()), origin + ": decoder");
  impl->post = make_post_processor(j.value("post_processor", json()), origin + ": post_processor", {});
  if (j.contains("added_tokens") && !j["added_tokens"].is_null()) {
    const auto& list = j["added_tokens"];
    if (!list.is_array()) fail("{}: added_tokens must be a list", origin);
    for (size_t i = 0; i < list.size(); ++i) {
      std::string where = fmt::format("{}: added_tokens[{}]", origin, i);
      const auto& a = list[i];
      Impl::Added e;
      e.id = field(a, "id", where).get<int32_t>();
      e.tok.content = string_field(a, "content", where);
      e.tok.special = a.value("special", false);
      e.tok.normalized = a.value("normalized", !e.tok.special);
      e.tok.lstrip = a.value("lstrip", false);
      e.tok.rstrip = a.value("rstrip", false);
      e.tok.single_word = a.value("single_word", false);
      impl->added_by_id[e.id] = impl->added.size();
      impl->added_by_content[e.tok.content] = impl->added.size();
      impl->added.push_back(std::move(e));
    }
  }
  impl->rebuild_tries();
  return Tokenizer(std::move(impl));
}

Encoding Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  return impl_->encode(text, add_special_tokens);
}

std::vector<Encoding> Tokenizer::encode_batch(const std::vector<std::string>& texts, bool add_special, int threads) const {
  std::vector<Encoding> out(texts.size());
  int n = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  n = std::min<int>(n, static_cast<int>(texts.size()));
  if (n <= 1) {
    for (size_t i = 0; i < texts.size(); ++i) out[i] = encode(texts[i], add_special);
    return out;
  }
  std::vector<std::thread> pool;
  std::atomic<size_t> next{0};
  for (int t = 0; t < n; ++t)
    pool.emplace_back([&] {
      for (size_t i = next.fetch_add(64); i < texts.size(); i = next.fetch_add(64))
        for (size_t k = i; k < std::min(i + 64, texts.size()); ++k) out[k] = encode(texts[k], add_special);
    });
  for (auto& th : pool) th.join();
  return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  if (impl_->sp) {
    std::vector<int> keep;
    for (int32_t id : ids)
      if (id >= 0 && id < impl_->sp->GetPieceSize() && !(skip_special && impl_->sp->IsControl(id))) keep.push_back(id);
    std::string out;
    auto st = impl_->sp->Decode(keep, &out);
    if (!st.ok()) fail("{}: cannot decode: {}", impl_->origin, st.ToString());
    return out;
  }
  std::vector<std::string> tokens;
  for (int32_t id : ids) {
    auto it = impl_->added_by_id.find(id);
    if (it != impl_->added_by_id.end()) {
      if (skip_special && impl_->added[it->second].tok.special) continue;
      tokens.push_back(impl_->added[it->second].tok.content);
    } else if (const std::string* t = impl_->model->id_to_token(id)) {
      tokens.push_back(*t);
    }
  }
  if (!impl_->decoder) {
    std::string s;
    for (size_t i = 0; i < tokens.size(); ++i) s += (i ? " " : "") + tokens[i];
    return s;
  }
  impl_->decoder->decode_chain(tokens);
  std::string s;
  for (const auto& t : tokens) s += t;
  return s;
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  if (impl_->sp) {
    int id = impl_->sp->PieceToId(std::string(token));
    if (impl_->sp->IdToPiece(id) == token) return id;
    return std::nullopt;
  }
  auto it = impl_->added_by_content.find(std::string(token));
  if (it != impl_->added_by_content.end()) return impl_->added[it->second].id;
  int32_t id = impl_->model->token_to_id(std::string(token));
  if (id >= 0) return id;
  return std::nullopt;
}

std::optional<std::string> Tokenizer::id_to_token(int32_t id) const {
  if (impl_->sp) {
    if (id < 0 || id >= impl_->sp->GetPieceSize()) return std::nullopt;
    return impl_->sp->IdToPiece(id);
  }
  auto it = impl_->added_by_id.find(id);
  if (it != impl_->added_by_id.end()) return impl_->added[it->second].tok.content;
  if (const std::string* t = impl_->model->id_to_token(id)) return *t;
  return std::nullopt;
}

bool Tokenizer::is_special(int32_t id) const {
  if (impl_->sp) return id >= 0 && id < impl_->sp->GetPieceSize() && impl_->sp->IsControl(id);
  auto it = impl_->added_by_id.find(id);
  return it != impl_->added_by_id.end() && impl_->added[it->second].tok.special;
}

size_t Tokenizer::vocab_size(bool with_added) const {
  if (impl_->sp) return static_cast<size_t>(impl_->sp->GetPieceSize());
  size_t n = impl_->model->vocab_size();
  if (!with_added) return n;
  for (const auto& a : impl_->added)
    if (!impl_->model->id_to_token(a.id)) ++n;
  return n;
}

int32_t Tokenizer::add_tokens(const std::vector<AddedToken>& tokens) {
  if (impl_->sp) fail("{}: vocabulary extension needs a tokenizer.json (SentencePiece models are fixed)", impl_->origin);
  int32_t added = 0;
  for (const auto& t : tokens) {
    if (t.content.empty()) fail("cannot add an empty token");
    if (impl_->added_by_content.count(t.content)) continue;
    int32_t existing = impl_->model->token_to_id(t.content);
    int32_t id = existing >= 0 ? existing : static_cast<int32_t>(vocab_size(true));
    impl_->added_by_id[id] = impl_->added.size();
    impl_->added_by_content[t.content] = impl_->added.size();
    impl_->added.push_back({t, id});
    if (existing < 0) ++added;
  }
  impl_->rebuild_tries();
  return added;
}

void Tokenizer::save_json(const std::string& path) const {
  if (impl_->sp) fail("{}: a SentencePiece model cannot be saved as tokenizer.json", impl_->origin);
  json j = json::parse(impl_->raw_json);
  json list = json::array();
  for (const auto& a : impl_->added)
    list.push_back({{"id", a.id},
                    {"content", a.tok.content},
                    {"single_word", a.tok.single_word},
                    {"lstrip", a.tok.lstrip},
                    {"rstrip", a.tok.rstrip},
                    {"normalized", a.tok.normalized},
                    {"special", a.tok.special}});
  j["added_tokens"] = list;
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << j.dump(2);
    if (!out) fail("failed writing '{}'", tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) fail("cannot rename '{}' to '{}'", tmp, path);
}

}  // namespace pt::tok
