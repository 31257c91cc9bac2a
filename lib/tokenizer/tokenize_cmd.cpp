#include "tokenizer/tokenize_cmd.h"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace pt::tok {

size_t tokenize_to_json(const TokenizeRequest& r, std::ostream& out) {
  auto tok = Tokenizer::from_path(r.tokenizer);
  auto emit = [&](const std::string& text) {
    auto e = tok.encode(text, r.add_special_tokens);
    nlohmann::json j;
    j["ids"] = e.ids;
    if (r.tokens) {
      std::vector<std::string> toks;
      for (int32_t id : e.ids) toks.push_back(tok.id_to_token(id).value_or(""));
      j["tokens"] = toks;
      j["offsets"] = e.offsets;
    }
    out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  };
  if (r.jsonl.empty()) {
    emit(r.text);
    return 1;
  }
  std::ifstream in(r.jsonl);
  if (!in) fail("cannot open '{}'", r.jsonl);
  size_t n = 0, line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json rec;
    try {
      rec = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      fail_at(Location{r.jsonl, static_cast<int>(line_no), 0, ""}, "invalid JSON: {}", e.what());
    }
    if (!rec.is_object() || !rec.contains(r.field) || !rec[r.field].is_string())
      fail_at(Location{r.jsonl, static_cast<int>(line_no), 0, r.field}, "expected a string field '{}'", r.field);
    emit(rec[r.field].get<std::string>());
    ++n;
  }
  return n;
}

}  // namespace pt::tok
