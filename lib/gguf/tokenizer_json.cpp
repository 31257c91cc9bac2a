#include "gguf/tokenizer_json.h"

#include <map>
#include <set>
#include <unordered_map>

#include "core/error.h"
#include "gguf/spm_merges.h"
#include "tokenizer/unicode.h"

namespace pt::gguf {
using nlohmann::ordered_json;

namespace {

enum TokenType { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

// tokenizer.ggml.pre names whose split regex differs from GPT-2's (llama.cpp's llama-vocab.cpp,
// transformers' GGUF tokenizer builder).
const std::map<std::string, std::string>& split_regexes() {
  static const std::string llama3 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  static const std::string qwen2 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  static const std::string qwen35 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  static const std::string tekken =
      R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  static const std::string gpt4o =
      R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  static const std::map<std::string, std::string> m = {
      {"llama3", llama3}, {"llama-v3", llama3}, {"llama-bpe", llama3}, {"falcon3", llama3}, {"falcon-h1", llama3},
      {"pixtral", llama3}, {"midm-2.0", llama3}, {"lfm2", llama3}, {"jina-v5-nano", llama3}, {"dbrx", llama3},
      {"smaug-bpe", llama3}, {"tekken", tekken}, {"qwen2", qwen2}, {"deepseek-r1-qwen", qwen2}, {"kormo", qwen2},
      {"f2llmv2", qwen2}, {"megrez", qwen2}, {"qwen35", qwen35}, {"gpt-4o", gpt4o}, {"llama4", gpt4o},
      {"kanana2", gpt4o}, {"talkie", gpt4o}, {"minimax-m2", gpt4o}};
  return m;
}

bool in_byte_alphabet(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = 0;
    if (tok::unicode_to_byte(tok::utf8_decode(s, i, &n)) < 0) return false;
    i += n;
  }
  return true;
}

std::string byte_spelling(const std::string& s) {
  std::string out;
  for (unsigned char c : s) out += tok::byte_to_unicode()[c];
  return out;
}

std::vector<std::string> strings(const Reader& r, const std::string& key) {
  const auto& v = r.at(key);
  if (!v.is_array()) fail("{}: {} must be an array of strings", r.path(), key);
  std::vector<std::string> out;
  out.reserve(v.size());
  for (const auto& s : v) {
    if (!s.is_string()) fail("{}: {} must be an array of strings, found {}", r.path(), key, s.dump());
    out.push_back(s.get<std::string>());
  }
  return out;
}

std::vector<int> token_types(const Reader& r, size_t n) {
  std::vector<int> t(n, kNormal);
  if (!r.has("tokenizer.ggml.token_type")) return t;
  const auto& v = r.at("tokenizer.ggml.token_type");
  if (!v.is_array() || v.size() != n)
    fail("{}: tokenizer.ggml.token_type must list one type per token ({} tokens)", r.path(), n);
  for (size_t i = 0; i < n; ++i) t[i] = v[i].get<int>();
  return t;
}

// The id a tokenizer.ggml.*_token_id key names, or -1.
int64_t special_id(const Reader& r, const std::string& key, size_t n) {
  if (!r.has(key)) return -1;
  const auto& v = r.at(key);
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<uint64_t>() >= n)
    fail("{}: {} = {} is not a token id (the vocabulary has {} tokens)", r.path(), key, v.dump(), n);
  return v.get<int64_t>();
}

ordered_json added(int64_t id, const std::string& content, bool special) {
  return {{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", false},
          {"rstrip", false}, {"normalized", false}, {"special", special}};
}

// tokenizer.ggml.add_bos_token / add_eos_token; unset, a SentencePiece vocabulary adds BOS (llama.cpp's
// default, and transformers').
bool adds(const Reader& r, const char* what) {
  const std::string key = std::string("tokenizer.ggml.") + what;
  if (r.has(key) && r.at(key).is_boolean()) return r.at(key).get<bool>();
  return std::string(what) == "add_bos_token" && r.has("tokenizer.ggml.model") && r.at("tokenizer.ggml.model") == "llama";
}

ordered_json post_processor(const Reader& r, const std::vector<std::string>& tokens) {
  ordered_json single = ordered_json::array(), pair = ordered_json::array(), specials = ordered_json::object();
  const int64_t bos = special_id(r, "tokenizer.ggml.bos_token_id", tokens.size());
  const int64_t eos = special_id(r, "tokenizer.ggml.eos_token_id", tokens.size());
  const bool add_bos = adds(r, "add_bos_token") && bos >= 0;
  const bool add_eos = adds(r, "add_eos_token") && eos >= 0;
  auto special = [&](int64_t id, int type_id) {
    const std::string& t = tokens[static_cast<size_t>(id)];
    specials[t] = {{"id", t}, {"ids", {id}}, {"tokens", {t}}};
    return ordered_json{{"SpecialToken", {{"id", t}, {"type_id", type_id}}}};
  };
  auto sequence = [](const char* id, int type_id) { return ordered_json{{"Sequence", {{"id", id}, {"type_id", type_id}}}}; };
  for (int part = 0; part < 2; ++part) {
    ordered_json& out = part == 0 ? single : pair;
    for (int s = 0; s <= part; ++s) {
      if (add_bos) out.push_back(special(bos, s));
      out.push_back(sequence(s == 0 ? "A" : "B", s));
      if (add_eos) out.push_back(special(eos, s));
    }
  }
  return {{"type", "TemplateProcessing"}, {"single", single}, {"pair", pair}, {"special_tokens", specials}};
}

}  // namespace

namespace {

std::string tokenizer_model(const Reader& r) {
  const std::string model = r.at("tokenizer.ggml.model").is_string() ? r.at("tokenizer.ggml.model").get<std::string>() : "";
  const std::string arch = r.has("general.architecture") && r.at("general.architecture").is_string()
                               ? r.at("general.architecture").get<std::string>() : "";
  if (model == "llama" && arch == "phi3")
    fail("{}: a SentencePiece vocabulary of architecture '{}' is not imported (its prefix space comes from a "
         "normalizer transformers rebuilds by architecture); set tokenizer.path to the model's Hugging Face "
         "tokenizer directory", r.path(), arch);
  if (model != "gpt2" && model != "llama")
    fail("{}: tokenizer.ggml.model is '{}': byte-level BPE ('gpt2') and SentencePiece BPE ('llama') vocabularies are "
         "imported; set tokenizer.path to the model's Hugging Face tokenizer directory", r.path(), model);
  return model;
}

std::vector<float> scores(const Reader& r, size_t n) {
  const std::string key = "tokenizer.ggml.scores";
  if (!r.has(key)) fail("{}: a SentencePiece vocabulary without merges needs {} (one per token)", r.path(), key);
  const auto& v = r.at(key);
  if (!v.is_array() || v.size() != n) fail("{}: {} must list one number per token ({} tokens)", r.path(), key, n);
  std::vector<float> out;
  out.reserve(n);
  for (const auto& x : v) {
    if (!x.is_number()) fail("{}: {} must list numbers, found {}", r.path(), key, x.dump());
    out.push_back(x.get<float>());
  }
  return out;
}

// SentencePiece BPE as transformers' LlamaTokenizer builds it: the pieces as spelled, unknown
// characters as <0xNN> byte pieces, "▁" for spaces with one prepended to the first word.
void sentencepiece_parts(const Reader& r, const std::vector<std::string>& tokens, ordered_json& model,
                         ordered_json& pre, ordered_json& decoder) {
  ordered_json merges = ordered_json::array();
  if (r.has("tokenizer.ggml.merges")) {
    for (const auto& m : strings(r, "tokenizer.ggml.merges")) merges.push_back(m);
  } else {
    for (auto& [a, b] : spm_merges(tokens, scores(r, tokens.size()))) merges.push_back(ordered_json::array({a, b}));
  }
  model["fuse_unk"] = true;
  model["byte_fallback"] = true;
  model["continuing_subword_prefix"] = nullptr;
  model["end_of_word_suffix"] = nullptr;
  model["merges"] = merges;
  pre = {{"type", "Metaspace"}, {"replacement", "\u2581"}, {"prepend_scheme", "first"}, {"split", false}};
  decoder = {{"type", "Sequence"},
             {"decoders",
              {{{"type", "Replace"}, {"pattern", {{"String", "\u2581"}}}, {"content", " "}},
               {{"type", "ByteFallback"}},
               {{"type", "Fuse"}},
               {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
}

// Python's str.isspace() for one code point (transformers' test for a token of blanks).
bool is_space(uint32_t c) {
  return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

// Gemma files store a token of blanks with real spaces ("  "); Gemma's tokenizer looks it up as "▁▁":
// such a token is respelled as one "▁" per character, as transformers' GGUF loader does.
std::string gemma_spelling(const std::string& t) {
  if (t.find(' ') == std::string::npos) return t;
  size_t chars = 0;
  for (size_t i = 0; i < t.size(); ++chars) {
    size_t n = 0;
    if (!is_space(tok::utf8_decode(t, i, &n))) return t;
    i += n;
  }
  std::string out;
  for (size_t k = 0; k < chars; ++k) out += "\u2581";
  return out;
}

// Gemma's SentencePiece BPE as transformers' GemmaTokenizer builds it: spaces become "▁" in a
// normalizer (no prefix space), merges from the file or rebuilt in the order the tokens appear in it
// (Gemma's scores do not follow its merges).
void gemma_parts(const Reader& r, const std::vector<std::string>& spelled, ordered_json& model, ordered_json& normalizer,
                 ordered_json& pre, ordered_json& decoder) {
  ordered_json merges = ordered_json::array();
  if (r.has("tokenizer.ggml.merges")) {
    for (const auto& m : strings(r, "tokenizer.ggml.merges")) merges.push_back(m);
  } else {
    std::vector<float> order(spelled.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = -static_cast<float>(i);
    for (auto& [a, b] : spm_merges(spelled, order)) merges.push_back(ordered_json::array({a, b}));
  }
  model["unk_token"] = "<unk>";
  model["fuse_unk"] = true;
  model["byte_fallback"] = true;
  model["continuing_subword_prefix"] = nullptr;
  model["end_of_word_suffix"] = nullptr;
  model["merges"] = merges;
  normalizer = {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\u2581"}};
  pre = {{"type", "Split"}, {"pattern", {{"String", " "}}}, {"behavior", "MergedWithPrevious"}, {"invert", false}};
  decoder = {{"type", "Sequence"},
             {"decoders",
              {{{"type", "Replace"}, {"pattern", {{"String", "\u2581"}}}, {"content", " "}},
               {{"type", "ByteFallback"}},
               {{"type", "Fuse"}}}}};
}

}  // namespace

ordered_json tokenizer_json(const Reader& r) {
  const std::string kind = tokenizer_model(r);
  const bool byte_level_vocab = kind == "gpt2";
  const std::vector<std::string> tokens = strings(r, "tokenizer.ggml.tokens");
  const std::vector<int> types = token_types(r, tokens.size());
  const bool gemma = kind == "llama" && r.has("general.architecture") && r.at("general.architecture").is_string() &&
                     r.at("general.architecture").get<std::string>().rfind("gemma", 0) == 0;
  std::vector<std::string> gemma_spelled;
  if (gemma)
    for (const auto& t : tokens) gemma_spelled.push_back(gemma_spelling(t));
  // The vocabulary in id order. ordered_json finds a key by a linear scan, which over a Gemma-sized
  // vocabulary (262k tokens) is minutes: entries are appended directly, a repeated spelling keeping
  // the last id (as assignment would).
  ordered_json vocab = ordered_json::object();
  auto& entries = static_cast<std::vector<std::pair<const std::string, ordered_json>>&>(
      vocab.get_ref<ordered_json::object_t&>());
  std::unordered_map<std::string, size_t> at;
  std::set<std::string> spelled;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string s = gemma ? gemma_spelled[i]
                          : !byte_level_vocab || in_byte_alphabet(tokens[i]) ? tokens[i] : byte_spelling(tokens[i]);
    if (auto it = at.find(s); it != at.end()) {
      entries[it->second].second = i;
    } else {
      at.emplace(s, entries.size());
      entries.emplace_back(s, i);
    }
    spelled.insert(s);
  }
  std::map<int64_t, ordered_json> added_tokens;
  for (size_t i = 0; i < tokens.size(); ++i) {
    // A control token spelled outside the byte alphabet is a llama.cpp mislabel: not added.
    if (types[i] == kControl && (!byte_level_vocab || in_byte_alphabet(tokens[i]))) added_tokens[i] = added(i, tokens[i], true);
    if (types[i] == kUserDefined && spelled.count(tokens[i])) added_tokens[i] = added(i, tokens[i], false);
  }
  for (const char* key : {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id",
                          "tokenizer.ggml.padding_token_id"})
    if (const int64_t id = special_id(r, key, tokens.size()); id >= 0 && !added_tokens.count(id))
      added_tokens[id] = added(id, tokens[static_cast<size_t>(id)], true);
  ordered_json list = ordered_json::array();
  for (auto& [id, t] : added_tokens) list.push_back(std::move(t));

  ordered_json model = {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", ""},
                        {"end_of_word_suffix", ""}, {"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", false},
                        {"vocab", vocab}, {"merges", ordered_json::array()}};
  ordered_json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  ordered_json pre_tokenizer = byte_level, decoder = byte_level, normalizer = nullptr;
  decoder["add_prefix_space"] = true;
  if (byte_level_vocab) {
    if (r.has("tokenizer.ggml.merges"))
      for (const auto& m : strings(r, "tokenizer.ggml.merges")) model["merges"].push_back(m);
  } else if (gemma) {
    gemma_parts(r, gemma_spelled, model, normalizer, pre_tokenizer, decoder);
  } else {
    sentencepiece_parts(r, tokens, model, pre_tokenizer, decoder);
  }
  // The split regex llama.cpp names replaces the pre-tokenizer, whatever the vocabulary (as transformers does).
  const std::string pre = r.has("tokenizer.ggml.pre") && r.at("tokenizer.ggml.pre").is_string()
                              ? r.at("tokenizer.ggml.pre").get<std::string>() : "";
  if (auto it = split_regexes().find(pre); it != split_regexes().end()) {
    ordered_json bl = byte_level;
    bl["use_regex"] = false;
    pre_tokenizer = {{"type", "Sequence"},
                     {"pretokenizers",
                      {{{"type", "Split"}, {"pattern", {{"Regex", it->second}}}, {"behavior", "Isolated"}, {"invert", false}},
                       bl}}};
  }
  return {{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}, {"added_tokens", list},
          {"normalizer", normalizer}, {"pre_tokenizer", pre_tokenizer}, {"post_processor", post_processor(r, tokens)},
          {"decoder", decoder}, {"model", model}};
}

ordered_json tokenizer_config(const Reader& r) {
  const std::vector<std::string> tokens = strings(r, "tokenizer.ggml.tokens");
  ordered_json c = {{"tokenizer_class", "PreTrainedTokenizerFast"}};
  for (auto [name, key] : {std::pair<const char*, const char*>{"bos_token", "tokenizer.ggml.bos_token_id"},
                           {"eos_token", "tokenizer.ggml.eos_token_id"},
                           {"unk_token", "tokenizer.ggml.unknown_token_id"},
                           {"pad_token", "tokenizer.ggml.padding_token_id"}})
    if (const int64_t id = special_id(r, key, tokens.size()); id >= 0) c[name] = tokens[static_cast<size_t>(id)];
  for (const char* k : {"add_bos_token", "add_eos_token"})
    if (r.has(std::string("tokenizer.ggml.") + k) || adds(r, k)) c[k] = adds(r, k);
  if (r.has("tokenizer.chat_template") && r.at("tokenizer.chat_template").is_string())
    c["chat_template"] = r.at("tokenizer.chat_template");
  if (r.has("general.architecture") && r.has(r.at("general.architecture").get<std::string>() + ".context_length"))
    c["model_max_length"] = r.at(r.at("general.architecture").get<std::string>() + ".context_length");
  return c;
}

}  // namespace pt::gguf
