#pragma once
// A Hugging Face tokenizer directory: tokenizer.json (or .zst) + tokenizer_config.json (+ an optional
// chat_template.jinja). Special tokens, model_max_length and chat templates come from the config;
// rendering matches transformers' apply_chat_template.
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "tokenizer/jinja/template.h"
#include "tokenizer/tokenizer.h"

namespace pt::tok {

struct ChatOptions {
  bool add_generation_prompt = false;
  nlohmann::ordered_json tools;     // null or a list of tool schemas
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();  // template kwargs, e.g. {"enable_thinking": false}
  std::string template_name;        // "" = "default" (or the only template)
};

class HfTokenizer {
 public:
  static HfTokenizer from_dir(const std::string& dir);
  // Overrides the chat template: a name from the config's named list, or a path to a .jinja file.
  void select_chat_template(const std::string& name_or_path);

  const Tokenizer& tokenizer() const { return tokenizer_; }
  Tokenizer& tokenizer() { return tokenizer_; }
  const std::optional<std::string>& bos_token() const { return bos_; }
  const std::optional<std::string>& eos_token() const { return eos_; }
  const std::optional<std::string>& pad_token() const { return pad_; }
  const std::optional<std::string>& unk_token() const { return unk_; }
  std::optional<int32_t> eos_id() const;
  std::optional<int32_t> pad_id() const;
  int64_t model_max_length() const { return model_max_length_; }
  bool has_chat_template(const std::string& name = "") const;

  // `messages` keeps key order (ordered_json) because templates print dicts via tojson/repr.
  jinja::RenderResult render_chat(const nlohmann::ordered_json& messages, const ChatOptions& opts = {}) const;

  // Adds special tokens (vocabulary extension); they are kept by save_pretrained.
  int32_t add_special_tokens(const std::vector<std::string>& tokens);
  // Regular added tokens (HF's add_tokens: matched in text, not special; normalized as HF does).
  int32_t add_tokens(const std::vector<std::string>& tokens);
  // tokenizer.json + tokenizer_config.json (with the extension and the selected chat template).
  void save_pretrained(const std::string& dir) const;

 private:
  HfTokenizer(Tokenizer t) : tokenizer_(std::move(t)) {}
  const jinja::CompiledTemplate& chat_template(const std::string& name) const;

  Tokenizer tokenizer_;
  std::string dir_;
  nlohmann::json config_ = nlohmann::json::object();
  std::optional<std::string> bos_, eos_, pad_, unk_;
  int64_t model_max_length_ = 0;
  std::map<std::string, std::string> template_sources_;  // name -> source
  std::string default_template_ = "default";
  mutable std::map<std::string, std::shared_ptr<jinja::CompiledTemplate>> compiled_;
  std::shared_ptr<std::mutex> compiled_mu_ = std::make_shared<std::mutex>();
};

}  // namespace pt::tok
