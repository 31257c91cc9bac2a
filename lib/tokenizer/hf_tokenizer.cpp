#include "tokenizer/hf_tokenizer.h"

#include <filesystem>
#include <fstream>

#include "core/compressed.h"
#include "core/error.h"

namespace fs = std::filesystem;

namespace pt::tok {

namespace {
// A special token in tokenizer_config.json is a string or an AddedToken dict {"content": ...}.
std::optional<std::string> token_field(const nlohmann::json& c, const char* key, const std::string& file) {
  if (!c.contains(key) || c[key].is_null()) return std::nullopt;
  const auto& v = c[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  fail("{}: '{}' must be a string or an object with 'content'", file, key);
}
}  // namespace

HfTokenizer HfTokenizer::from_dir(const std::string& dir) {
  HfTokenizer h(Tokenizer::from_path(dir));
  h.dir_ = dir;
  fs::path cfg = fs::path(dir) / "tokenizer_config.json";
  if (fs::exists(cfg)) {
    try {
      h.config_ = nlohmann::json::parse(read_file(cfg.string()));
    } catch (const nlohmann::json::exception& e) {
      fail("{}: invalid JSON: {}", cfg.string(), e.what());
    }
    if (!h.config_.is_object()) fail("{}: expected a JSON object", cfg.string());
    h.bos_ = token_field(h.config_, "bos_token", cfg.string());
    h.eos_ = token_field(h.config_, "eos_token", cfg.string());
    h.pad_ = token_field(h.config_, "pad_token", cfg.string());
    h.unk_ = token_field(h.config_, "unk_token", cfg.string());
    if (h.config_.contains("model_max_length") && h.config_["model_max_length"].is_number())
      h.model_max_length_ = static_cast<int64_t>(std::min(h.config_["model_max_length"].get<double>(), 1e15));
    if (h.config_.contains("chat_template") && !h.config_["chat_template"].is_null()) {
      const auto& ct = h.config_["chat_template"];
      if (ct.is_string()) {
        h.template_sources_["default"] = ct.get<std::string>();
      } else if (ct.is_array()) {
        for (size_t i = 0; i < ct.size(); ++i) {
          if (!ct[i].is_object() || !ct[i].contains("name") || !ct[i].contains("template"))
            fail("{}: chat_template[{}] must be {{\"name\": ..., \"template\": ...}}", cfg.string(), i);
          h.template_sources_[ct[i]["name"].get<std::string>()] = ct[i]["template"].get<std::string>();
        }
      } else {
        fail("{}: chat_template must be a string or a list of named templates", cfg.string());
      }
    }
  }
  fs::path jinja_file = fs::path(dir) / "chat_template.jinja";
  if (fs::exists(jinja_file)) h.template_sources_["default"] = read_file(jinja_file.string());
  if (!h.template_sources_.count("default") && h.template_sources_.size() == 1)
    h.default_template_ = h.template_sources_.begin()->first;
  return h;
}

void HfTokenizer::select_chat_template(const std::string& name_or_path) {
  if (name_or_path.empty()) return;
  if (template_sources_.count(name_or_path)) {
    default_template_ = name_or_path;
    return;
  }
  if (fs::exists(name_or_path)) {
    template_sources_[name_or_path] = read_file(name_or_path);
    default_template_ = name_or_path;
    return;
  }
  std::string known;
  for (const auto& [n, _] : template_sources_) known += (known.empty() ? "" : ", ") + n;
  fail("chat template '{}' is neither a template of {} ({}) nor a file", name_or_path, dir_,
       known.empty() ? "it has none" : known);
}

bool HfTokenizer::has_chat_template(const std::string& name) const {
  return template_sources_.count(name.empty() ? default_template_ : name) != 0;
}

const jinja::CompiledTemplate& HfTokenizer::chat_template(const std::string& name) const {
  const std::string& n = name.empty() ? default_template_ : name;
  // The data loader renders on its background thread while evaluation renders on the main one.
  std::lock_guard<std::mutex> lock(*compiled_mu_);
  auto it = compiled_.find(n);
  if (it != compiled_.end()) return *it->second;
  auto src = template_sources_.find(n);
  if (src == template_sources_.end())
    fail("tokenizer {} has no chat template{}", dir_, n == "default" ? "" : " named '" + n + "'");
  auto t = std::make_shared<jinja::CompiledTemplate>(src->second, dir_ + " chat_template[" + n + "]");
  compiled_[n] = t;
  return *t;
}

std::optional<int32_t> HfTokenizer::eos_id() const { return eos_ ? tokenizer_.token_to_id(*eos_) : std::nullopt; }
std::optional<int32_t> HfTokenizer::pad_id() const { return pad_ ? tokenizer_.token_to_id(*pad_) : std::nullopt; }

jinja::RenderResult HfTokenizer::render_chat(const nlohmann::ordered_json& messages, const ChatOptions& opts) const {
  if (!messages.is_array()) fail("messages must be a list of {{role, content}} objects");
  auto ctx = std::make_shared<jinja::Dict>();
  ctx->set("messages", jinja::Value::from_json(messages));
  ctx->set("tools", opts.tools.is_null() ? jinja::Value::none() : jinja::Value::from_json(opts.tools));
  ctx->set("documents", jinja::Value::none());
  ctx->set("add_generation_prompt", jinja::Value(opts.add_generation_prompt));
  // transformers passes the special tokens map (strings) to every template.
  auto put = [&](const char* k, const std::optional<std::string>& v) {
    if (v) ctx->set(k, jinja::Value(*v));
  };
  put("bos_token", bos_);
  put("eos_token", eos_);
  put("pad_token", pad_);
  put("unk_token", unk_);
  for (auto it = opts.extra.begin(); it != opts.extra.end(); ++it) ctx->set(it.key(), jinja::Value::from_json(it.value()));
  return chat_template(opts.template_name).render(ctx);
}

int32_t HfTokenizer::add_special_tokens(const std::vector<std::string>& tokens) {
  std::vector<AddedToken> add;
  for (const auto& t : tokens) add.push_back(AddedToken{t, true, false, false, false, false});
  return tokenizer_.add_tokens(add);
}

int32_t HfTokenizer::add_tokens(const std::vector<std::string>& tokens) {
  std::vector<AddedToken> add;
  for (const auto& t : tokens) add.push_back(AddedToken{t, false, true, false, false, false});
  return tokenizer_.add_tokens(add);
}

void HfTokenizer::save_pretrained(const std::string& dir) const {
  fs::create_directories(dir);
  std::string src = Tokenizer::resolve_path(dir_);
  if (src.size() >= 6 && src.compare(src.size() - 6, 6, ".model") == 0)
    fs::copy_file(src, fs::path(dir) / "tokenizer.model", fs::copy_options::overwrite_existing);
  else
    tokenizer_.save_json((fs::path(dir) / "tokenizer.json").string());
  nlohmann::json cfg = config_;
  nlohmann::json decoder = nlohmann::json::object();
  for (int32_t id = 0; id < static_cast<int32_t>(tokenizer_.vocab_size(true)); ++id)
    if (tokenizer_.is_special(id)) decoder[std::to_string(id)] = {{"content", *tokenizer_.id_to_token(id)}, {"special", true}};
  if (!decoder.empty()) cfg["added_tokens_decoder"] = decoder;
  if (template_sources_.count(default_template_)) cfg["chat_template"] = template_sources_.at(default_template_);
  std::ofstream out(fs::path(dir) / "tokenizer_config.json");
  out << cfg.dump(2) << "\n";
  if (!out) fail("cannot write {}/tokenizer_config.json", dir);
}

}  // namespace pt::tok
