#include "data/encode.h"

#include <algorithm>
#include <cmath>

#include "recipe/fields.h"

namespace pt::data {
using nlohmann::ordered_json;

Document Document::slice(size_t b, size_t e) const {
  Document d{{ids.begin() + b, ids.begin() + e}, {trained.begin() + b, trained.begin() + e}, {}};
  if (!weights.empty()) d.weights.assign(weights.begin() + b, weights.begin() + e);
  return d;
}

size_t Document::num_trained() const { return static_cast<size_t>(std::count(trained.begin(), trained.end(), 1)); }

size_t Example::size() const {
  size_t n = 0;
  for (const auto& d : docs) n += d.size();
  return n;
}

namespace {

const char* type_name(const ordered_json& v) { return v.type_name(); }

[[noreturn]] void bad(const std::string& where, const std::string& field, const std::string& what) {
  throw BadRecord(fmt::format("{}: field '{}': {}", where, field, what));
}

bool is_messages(const ordered_json& v) { return v.is_array() && (v.empty() || v.front().is_object()); }

void check_messages(const ordered_json& v, const std::string& where, const std::string& field) {
  if (!v.is_array()) bad(where, field, fmt::format("expected a list of {{role, content}} messages, got {}", type_name(v)));
  for (size_t i = 0; i < v.size(); ++i) {
    const auto& m = v[i];
    if (!m.is_object()) bad(where, fmt::format("{}[{}]", field, i), fmt::format("expected an object, got {}", type_name(m)));
    if (!m.contains("role") || !m["role"].is_string())
      bad(where, fmt::format("{}[{}].role", field, i), "missing or not a string");
    // Roles chat templates know; anything else (a typo like "usr") would be rendered or skipped
    // silently by the template and the turn's mask would be wrong.
    static const std::vector<std::string> roles{"system", "user", "assistant", "tool", "developer", "function", "ipython"};
    const std::string role = m["role"].get<std::string>();
    if (std::find(roles.begin(), roles.end(), role) == roles.end()) {
      const std::string hint = did_you_mean(role, roles);
      bad(where, fmt::format("{}[{}].role", field, i),
          fmt::format("unknown role '{}'{}; expected one of system, user, assistant, tool, developer, function, ipython",
                      role, hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
    }
    if (m.contains("content") && !(m["content"].is_string() || m["content"].is_array() || m["content"].is_null()))
      bad(where, fmt::format("{}[{}].content", field, i),
          fmt::format("expected a string or a list of parts, got {}", type_name(m["content"])));
  }
}

Document from_masked(tok::MaskedTokens&& m) { return Document{std::move(m.ids), std::move(m.trained)}; }

}  // namespace

const std::vector<std::string>& RecordEncoder::field_names(Format f) {
  static const std::map<Format, std::vector<std::string>> names{
      {Format::Chat, {"messages", "tools"}},
      {Format::PromptCompletion, {"prompt", "completion"}},
      {Format::Preference, {"prompt", "chosen", "rejected", "margin"}},
      {Format::Unpaired, {"prompt", "completion", "label"}},
      {Format::Prompts, {"prompt", "answer"}},
      {Format::TokenIds, {"ids", "trained", "weights"}},
      {Format::Text, {"text"}},
      {Format::Classification, {"text", "label"}},
      {Format::TokenClassification, {"ids", "labels"}},
  };
  return names.at(f);
}

RecordEncoder::RecordEncoder(const tok::HfTokenizer* tok, const SourceOptions& src, tok::MaskOptions masks,
                             std::string key, int64_t vocab_size)
    : tok_(tok), format_(src.format), masks_(std::move(masks)), key_(std::move(key)), vocab_size_(vocab_size) {
  const auto& names = field_names(format_);
  for (const auto& n : names) fields_[n] = n;
  for (const auto& [ours, theirs] : src.fields) {
    if (std::find(names.begin(), names.end(), ours) == names.end()) {
      std::string hint = did_you_mean(ours, names);
      fail("{}.fields.{}: format '{}' has no field '{}'{}; its fields are {}", key_, ours,
           recipe::enum_name(format_), ours, hint.empty() ? "" : " (did you mean '" + hint + "'?)",
           fmt::join(names, ", "));
    }
    fields_[ours] = theirs;
  }
  if (!tok_ && format_ != Format::TokenIds && format_ != Format::TokenClassification)
    fail("{}: format '{}' needs a tokenizer", key_, recipe::enum_name(format_));
}

const std::string& RecordEncoder::field(const std::string& ours) const { return fields_.at(ours); }

namespace {
ordered_json parse_record(std::string_view line, const std::string& where) {
  ordered_json rec;
  try {
    rec = ordered_json::parse(line);
  } catch (const nlohmann::json::parse_error& e) {
    // nlohmann's byte offset is into the line; say so rather than guess a column.
    throw BadRecord(fmt::format("{}: malformed JSON at byte {} of the line: {}", where, e.byte, e.what()));
  }
  if (!rec.is_object()) throw BadRecord(fmt::format("{}: expected a JSON object per line, got {}", where, type_name(rec)));
  return rec;
}
}  // namespace

Example RecordEncoder::encode(std::string_view line, const std::string& where) const {
  const ordered_json rec = parse_record(line, where);
  try {
    switch (format_) {
      case Format::Chat: return chat(rec, where);
      case Format::PromptCompletion: return prompt_completion(rec, where);
      case Format::Preference: return preference(rec, where);
      case Format::Unpaired: return unpaired(rec, where);
      case Format::Prompts: return prompts(rec, where);
      case Format::TokenIds: return token_ids(rec, where);
      case Format::Text: return text(rec, where);
      case Format::Classification: return classification(rec, where);
      case Format::TokenClassification: return token_classification(rec, where);
    }
  } catch (const BadRecord&) {
    throw;
  } catch (const Error& e) {
    // Template refusals (raise_exception), unsegmentable turns, zero trained tokens: the record's fault.
    std::string msg = e.what();
    throw BadRecord(msg.rfind(where, 0) == 0 ? msg : fmt::format("{}: {}", where, msg));
  }
  fail("unreachable format");
}

namespace {
const ordered_json& need(const ordered_json& rec, const std::string& field, const std::string& where, const char* fmt_name) {
  auto it = rec.find(field);
  if (it == rec.end() || it->is_null()) {
    std::vector<std::string> keys;
    for (auto k = rec.begin(); k != rec.end(); ++k) keys.push_back(k.key());
    std::string hint = did_you_mean(field, keys);
    throw BadRecord(fmt::format("{}: missing field '{}' (format {}){}{}", where, field, fmt_name,
                                hint.empty() ? "" : "; did you mean '" + hint + "'? (map it with data.sources[].fields)",
                                keys.empty() ? "" : fmt::format("; the record has: {}", fmt::join(keys, ", "))));
  }
  return *it;
}
const std::string& need_string(const ordered_json& v, const std::string& field, const std::string& where) {
  if (!v.is_string()) bad(where, field, fmt::format("expected a string, got {}", type_name(v)));
  return v.get_ref<const std::string&>();
}
}  // namespace

Example RecordEncoder::chat(const ordered_json& rec, const std::string& where) const {
  const auto& f = field("messages");
  const auto& msgs = need(rec, f, where, "chat");
  check_messages(msgs, where, f);
  tok::MaskOptions opts = masks_;
  auto t = rec.find(field("tools"));
  if (t != rec.end() && !t->is_null()) {
    if (!t->is_array()) bad(where, field("tools"), fmt::format("expected a list of tool schemas, got {}", type_name(*t)));
    opts.chat.tools = *t;
  }
  Example ex;
  ex.docs.push_back(from_masked(tok::encode_chat(*tok_, msgs, opts, where)));
  return ex;
}

ordered_json as_messages(const ordered_json& v, const std::string& role) {
  if (v.is_array()) return v;
  return ordered_json::array({ordered_json{{"role", role}, {"content", v}}});
}

Example RecordEncoder::prompt_completion(const ordered_json& rec, const std::string& where, const char* format) const {
  const auto& pf = field("prompt");
  const auto& cf = field("completion");
  const auto& p = need(rec, pf, where, format);
  const auto& c = need(rec, cf, where, format);
  Example ex;
  if (p.is_string() && c.is_string()) {
    ex.docs.push_back(from_masked(tok::encode_prompt_completion(*tok_, p.get<std::string>(), c.get<std::string>(), where)));
    return ex;
  }
  // Conversational prompt/completion: rendered with the chat template, only the completion trained.
  if (!is_messages(p)) bad(where, pf, fmt::format("expected a string or a list of messages, got {}", type_name(p)));
  if (!(c.is_string() || is_messages(c)))
    bad(where, cf, fmt::format("expected a string or a list of messages, got {}", type_name(c)));
  check_messages(p, where, pf);
  ordered_json msgs = p;
  for (const auto& m : as_messages(c, "assistant")) msgs.push_back(m);
  check_messages(msgs, where, cf);
  tok::MaskOptions opts = masks_;
  opts.last_turn_only = true;
  ex.docs.push_back(from_masked(tok::encode_chat(*tok_, msgs, opts, where)));
  return ex;
}

Example RecordEncoder::preference(const ordered_json& rec, const std::string& where) const {
  const auto& pf = field("prompt");
  const auto& chosen = need(rec, field("chosen"), where, "preference");
  const auto& rejected = need(rec, field("rejected"), where, "preference");
  auto pit = rec.find(pf);
  bool has_prompt = pit != rec.end() && !pit->is_null();
  Example ex;
  for (const auto* side : {&chosen, &rejected}) {
    const std::string& sf = side == &chosen ? field("chosen") : field("rejected");
    if (side->is_string() && (!has_prompt || pit->is_string())) {
      if (!has_prompt) need(rec, pf, where, "preference");
      ex.docs.push_back(from_masked(tok::encode_prompt_completion(*tok_, pit->get<std::string>(), side->get<std::string>(), where)));
      continue;
    }
    if (!(side->is_string() || is_messages(*side)))
      bad(where, sf, fmt::format("expected a string or a list of messages, got {}", type_name(*side)));
    ordered_json msgs = ordered_json::array();
    if (has_prompt) {
      if (!is_messages(*pit)) bad(where, pf, "expected a list of messages when chosen/rejected are messages");
      check_messages(*pit, where, pf);
      msgs = *pit;
    }
    for (const auto& m : as_messages(*side, "assistant")) msgs.push_back(m);
    check_messages(msgs, where, sf);
    tok::MaskOptions opts = masks_;
    opts.last_turn_only = true;  // only the preferred/dispreferred answer is scored
    ex.docs.push_back(from_masked(tok::encode_chat(*tok_, msgs, opts, where)));
  }
  check_pair(ex, where);
  // An optional margin the chosen answer should win by (read by algorithm reward_model, as TRL's
  // RewardTrainer reads a `margin` column).
  if (auto m = rec.find(field("margin")); m != rec.end() && !m->is_null()) {
    if (!m->is_number()) bad(where, field("margin"), fmt::format("expected a number, got {}", type_name(*m)));
    ex.meta = nlohmann::json{{"margin", m->get<double>()}};
  }
  return ex;
}

// An unpaired preference (KTO; TRL's unpaired preference layout): a prompt, a completion and whether it
// is desirable (true) or not (false), kept as the unit's metadata.
Example RecordEncoder::unpaired(const ordered_json& rec, const std::string& where) const {
  const auto& lf = field("label");
  const auto& l = need(rec, lf, where, "unpaired");
  if (!l.is_boolean()) bad(where, lf, fmt::format("expected true (desirable) or false (undesirable), got {}", type_name(l)));
  Example ex = prompt_completion(rec, where, "unpaired");
  if (ex.docs.at(0).num_trained() == 0) bad(where, field("completion"), "the completion has no trained token after tokenization");
  ex.meta = nlohmann::json{{"label", l.get<bool>()}};
  return ex;
}

// A pair must share its prompt, differ in its answers and score at least one token of each.
void RecordEncoder::check_pair(const Example& ex, const std::string& where) const {
  const Document &c = ex.docs.at(0), &r = ex.docs.at(1);
  for (const auto* d : {&c, &r})
    if (d->num_trained() == 0)
      bad(where, field(d == &c ? "chosen" : "rejected"), "the answer has no trained token after tokenization");
  if (c.ids == r.ids) bad(where, field("rejected"), "chosen and rejected are identical: the pair teaches nothing");
  auto prompt_len = [](const Document& d) {
    size_t i = 0;
    while (i < d.size() && !d.trained[i]) ++i;
    return i;
  };
  const size_t pc = prompt_len(c), pr = prompt_len(r);
  const size_t common = std::min(pc, pr);
  for (size_t i = 0; i < common; ++i)
    if (c.ids[i] != r.ids[i])
      bad(where, field("rejected"),
          fmt::format("chosen and rejected continue different prompts (their tokens differ at position {}); a pair "
                      "must answer the same prompt", i));
  if (pc != pr)
    bad(where, field("rejected"),
        fmt::format("chosen and rejected continue different prompts ({} vs {} prompt tokens); a pair must answer the "
                    "same prompt", pc, pr));
}

Example RecordEncoder::prompts(const ordered_json& rec, const std::string& where) const {
  const auto& pf = field("prompt");
  const auto& p = need(rec, pf, where, "prompts");
  Document d;
  if (p.is_string() && !tok_->has_chat_template()) {
    d.ids = tok_->tokenizer().encode(p.get<std::string>(), true).ids;
  } else {
    if (!(p.is_string() || is_messages(p)))
      bad(where, pf, fmt::format("expected a string or a list of messages, got {}", type_name(p)));
    ordered_json msgs = as_messages(p, "user");
    check_messages(msgs, where, pf);
    tok::ChatOptions chat = masks_.chat;
    chat.add_generation_prompt = true;
    d.ids = tok_->tokenizer().encode(tok_->render_chat(msgs, chat).text, false).ids;
  }
  d.trained.assign(d.ids.size(), 0);
  Example ex;
  ex.docs.push_back(std::move(d));
  ex.meta = nlohmann::json::parse(rec.dump());
  // The prompt stays in the record, as `prompt`: a multi-turn environment's conversation opens with it.
  if (pf != "prompt") {
    ex.meta["prompt"] = ex.meta[pf];
    ex.meta.erase(pf);
  }
  const auto& af = field("answer");
  if (ex.meta.contains(af) && af != "answer") {
    ex.meta["answer"] = ex.meta[af];
    ex.meta.erase(af);
  }
  return ex;
}

std::vector<int32_t> RecordEncoder::token_id_list(const ordered_json& rec, const std::string& where, const char* format) const {
  const auto& f = field("ids");
  const auto& ids = need(rec, f, where, format);
  if (!ids.is_array() || ids.empty()) bad(where, f, fmt::format("expected a non-empty list of token ids, got {}", type_name(ids)));
  std::vector<int32_t> out;
  out.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto& v = ids[i];
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || (vocab_size_ > 0 && v.get<int64_t>() >= vocab_size_))
      bad(where, fmt::format("{}[{}]", f, i),
          fmt::format("expected a token id in [0, {}), got {}", vocab_size_ > 0 ? std::to_string(vocab_size_) : "2^31",
                      v.dump()));
    out.push_back(static_cast<int32_t>(v.get<int64_t>()));
  }
  return out;
}

Example RecordEncoder::token_ids(const ordered_json& rec, const std::string& where) const {
  Document d;
  d.ids = token_id_list(rec, where, "token_ids");
  const auto& ids = rec.at(field("ids"));
  auto t = rec.find(field("trained"));
  if (t != rec.end() && !t->is_null()) {
    if (!t->is_array() || t->size() != ids.size())
      bad(where, field("trained"), fmt::format("expected a list of {} 0/1 flags (one per id)", ids.size()));
    for (size_t i = 0; i < t->size(); ++i) {
      const auto& v = (*t)[i];
      if (!(v.is_boolean() || (v.is_number_integer() && (v == 0 || v == 1))))
        bad(where, fmt::format("{}[{}]", field("trained"), i), fmt::format("expected 0/1 or a boolean, got {}", v.dump()));
      d.trained.push_back(v.is_boolean() ? v.get<bool>() : v.get<int>());
    }
  } else {
    d.trained.assign(d.ids.size(), 1);
  }
  auto w = rec.find(field("weights"));
  if (w != rec.end() && !w->is_null()) {
    if (!w->is_array() || w->size() != ids.size())
      bad(where, field("weights"), fmt::format("expected a list of {} loss weights (one per id)", ids.size()));
    d.weights.reserve(ids.size());
    for (size_t i = 0; i < w->size(); ++i) {
      const auto& v = (*w)[i];
      if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0)
        bad(where, fmt::format("{}[{}]", field("weights"), i), fmt::format("expected a finite number >= 0, got {}", v.dump()));
      d.weights.push_back(v.get<float>());
    }
  }
  Example ex;
  ex.docs.push_back(std::move(d));
  return ex;
}

Example RecordEncoder::classification(const ordered_json& rec, const std::string& where) const {
  // A text (or a chat rendered by the template) and its label: an integer class or a number (regression).
  const auto& tf = field("text");
  const auto& t = need(rec, tf, where, "classification");
  Document d;
  if (t.is_string()) {
    d.ids = tok_->tokenizer().encode(t.get<std::string>(), true).ids;
  } else if (is_messages(t)) {
    check_messages(t, where, tf);
    d.ids = tok_->tokenizer().encode(tok_->render_chat(t, masks_.chat).text, false).ids;
  } else {
    bad(where, tf, fmt::format("expected a string or a list of messages, got {}", type_name(t)));
  }
  if (d.ids.empty()) bad(where, tf, "empty text");
  const auto& lf = field("label");
  const auto& l = need(rec, lf, where, "classification");
  if (!l.is_number()) bad(where, lf, fmt::format("expected a number (a class index, or a value to regress), got {}", type_name(l)));
  d.trained.assign(d.ids.size(), 0);  // the loss is on the head, not on tokens
  Example ex;
  ex.docs.push_back(std::move(d));
  ex.meta = nlohmann::json{{"label", l}};
  return ex;
}

Example RecordEncoder::token_classification(const ordered_json& rec, const std::string& where) const {
  // Pre-tokenized ids and a class per position (-100: no loss there), kept as the unit's metadata
  // "token_labels": the loss is on the head at each position, not on next tokens.
  Example ex;
  ex.docs.emplace_back();
  Document& d = ex.docs[0];
  d.ids = token_id_list(rec, where, "token_classification");
  const auto& lf = field("labels");
  const auto& l = need(rec, lf, where, "token_classification");
  if (!l.is_array() || l.size() != d.size())
    bad(where, lf, fmt::format("expected a list of {} class indices (one per id; -100 = no loss)", d.size()));
  nlohmann::json labels = nlohmann::json::array();
  size_t labelled = 0;
  for (size_t i = 0; i < l.size(); ++i) {
    const int64_t c = l[i].is_number_integer() ? l[i].get<int64_t>() : -1;
    if (c < 0 && c != kIgnoreIndex)
      bad(where, fmt::format("{}[{}]", lf, i), fmt::format("expected a class index >= 0 or -100, got {}", l[i].dump()));
    labelled += c != kIgnoreIndex;
    labels.push_back(c);
  }
  if (labelled == 0) bad(where, lf, "every position is -100: the record teaches nothing");
  d.trained.assign(d.ids.size(), 0);
  ex.meta = nlohmann::json{{"token_labels", std::move(labels)}};
  return ex;
}

Example RecordEncoder::text(const ordered_json& rec, const std::string& where) const {
  const auto& f = field("text");
  const auto& s = need_string(need(rec, f, where, "text"), f, where);
  Document d;
  d.ids = tok_->tokenizer().encode(s, true).ids;
  // Documents end with EOS so a packed row teaches where one text stops.
  if (auto eos = tok_->eos_id(); eos && (d.ids.empty() || d.ids.back() != *eos)) d.ids.push_back(*eos);
  if (d.ids.empty()) bad(where, f, "empty text");
  d.trained.assign(d.ids.size(), 1);
  Example ex;
  ex.docs.push_back(std::move(d));
  return ex;
}

// A prompt (string or messages, may be absent) and an answer (string, or messages ending with the
// assistant's), rendered as the preference and unpaired encoders tokenize them.
std::optional<RecordEncoder::PromptAndAnswer> RecordEncoder::answer_of(const ordered_json* p, const ordered_json& c) const {
  PromptAndAnswer out;
  if (c.is_string() && p && p->is_string()) {  // as encode_prompt_completion tokenizes it
    out.answer = c.get<std::string>();
    out.prompt = tok_->tokenizer().encode(p->get<std::string>(), true).ids;
    return out;
  }
  ordered_json msgs = ordered_json::array();
  if (p && p->is_array()) msgs = *p;
  else if (p && p->is_string()) msgs.push_back({{"role", "user"}, {"content", *p}});
  if (c.is_string()) {
    out.answer = c.get<std::string>();
  } else if (c.is_array() && !c.empty() && c.back().is_object() && c.back().value("role", "") == "assistant" &&
             c.back().contains("content") && c.back()["content"].is_string()) {
    out.answer = c.back()["content"].get<std::string>();
    for (size_t i = 0; i + 1 < c.size(); ++i) msgs.push_back(c[i]);
  } else {
    return std::nullopt;
  }
  if (msgs.empty()) return std::nullopt;
  tok::ChatOptions chat = masks_.chat;
  chat.add_generation_prompt = true;
  out.prompt = tok_->tokenizer().encode(tok_->render_chat(msgs, chat).text, false).ids;
  return out;
}

std::optional<RecordEncoder::PromptAndAnswer> RecordEncoder::prompt_and_answer(std::string_view line,
                                                                              const std::string& where) const {
  if (!has_prompt_and_answer(format_)) return std::nullopt;
  const ordered_json rec = parse_record(line, where);
  PromptAndAnswer out;
  if (format_ == Format::Chat) {
    auto it = rec.find(field("messages"));
    if (it == rec.end() || !it->is_array() || it->size() < 2) return std::nullopt;
    ordered_json msgs = *it;
    const auto& last = msgs.back();
    if (!last.is_object() || last.value("role", "") != "assistant" || !last.contains("content") ||
        !last["content"].is_string())
      return std::nullopt;
    out.answer = last["content"].get<std::string>();
    msgs.erase(msgs.size() - 1);
    tok::ChatOptions chat = masks_.chat;
    chat.add_generation_prompt = true;
    auto t = rec.find(field("tools"));
    if (t != rec.end() && t->is_array()) chat.tools = *t;
    out.prompt = tok_->tokenizer().encode(tok_->render_chat(msgs, chat).text, false).ids;
    return out;
  }
  if (format_ == Format::Preference) {
    // The prompt and the chosen answer: greedy answers moving to the chosen ones is what DPO is for.
    auto p = rec.find(field("prompt")), c = rec.find(field("chosen"));
    if (c == rec.end()) return std::nullopt;
    return answer_of(p == rec.end() ? nullptr : &*p, *c);
  }
  if (format_ == Format::Unpaired) {
    // A desirable example's prompt and completion (KTO moves greedy answers toward those).
    auto p = rec.find(field("prompt")), c = rec.find(field("completion")), l = rec.find(field("label"));
    if (c == rec.end() || l == rec.end() || !l->is_boolean() || !l->get<bool>()) return std::nullopt;
    return answer_of(p == rec.end() ? nullptr : &*p, *c);
  }
  if (format_ == Format::PromptCompletion) {
    auto p = rec.find(field("prompt")), c = rec.find(field("completion"));
    if (p == rec.end() || c == rec.end() || !p->is_string() || !c->is_string()) return std::nullopt;
    out.answer = c->get<std::string>();
    out.prompt = tok_->tokenizer().encode(p->get<std::string>(), true).ids;  // as encode_prompt_completion does
    return out;
  }
  return std::nullopt;
}

}  // namespace pt::data
