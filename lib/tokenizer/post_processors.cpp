// tokenizer.json post-processors: TemplateProcessing, Roberta/Bert (CLS/SEP), Sequence.
#include <utf8proc.h>

#include "core/error.h"
#include "tokenizer/component_helpers.h"
#include "tokenizer/components.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace pt::tok {

// ------------------------------------------------------------------------------------------------
// Post-processors

namespace {

class TemplatePost : public PostProcessor {
 public:
  TemplatePost(const json& j, const std::string& where) {
    const auto& single = field(j, "single", where);
    const auto& specials = j.contains("special_tokens") ? j["special_tokens"] : json::object();
    bool seen_seq = false;
    for (size_t i = 0; i < single.size(); ++i) {
      const auto& item = single[i];
      if (item.contains("Sequence")) {
        seen_seq = true;
        continue;
      }
      if (!item.contains("SpecialToken")) fail("{}.single[{}]: expected SpecialToken or Sequence", where, i);
      std::string name = string_field(item["SpecialToken"], "id", where + ".single");
      if (!specials.contains(name)) fail("{}.special_tokens: no entry for '{}'", where, name);
      for (const auto& id : field(specials[name], "ids", where + ".special_tokens." + name))
        (seen_seq ? after_ : before_).push_back(id.get<int32_t>());
    }
  }
  void wrap(std::vector<int32_t>& b, std::vector<int32_t>& a) const override {
    b.insert(b.end(), before_.begin(), before_.end());
    a.insert(a.end(), after_.begin(), after_.end());
  }

 private:
  std::vector<int32_t> before_, after_;
};

class ClsSepPost : public PostProcessor {
 public:
  ClsSepPost(const json& j, const std::string& where) {
    cls_ = field(j, "cls", where)[1].get<int32_t>();
    sep_ = field(j, "sep", where)[1].get<int32_t>();
  }
  void wrap(std::vector<int32_t>& b, std::vector<int32_t>& a) const override {
    b.push_back(cls_);
    a.push_back(sep_);
  }

 private:
  int32_t cls_, sep_;
};

class SequencePost : public PostProcessor {
 public:
  std::vector<std::unique_ptr<PostProcessor>> parts;
  void wrap(std::vector<int32_t>& b, std::vector<int32_t>& a) const override {
    for (const auto& p : parts) p->wrap(b, a);
  }
};

class NoopPost : public PostProcessor {
 public:
  void wrap(std::vector<int32_t>&, std::vector<int32_t>&) const override {}
};

}  // namespace

std::unique_ptr<PostProcessor> make_post_processor(const json& j, const std::string& where,
                                                   const std::map<std::string, int32_t>&) {
  if (j.is_null()) return nullptr;
  std::string t = type_of(j, where);
  if (t == "Sequence")
    return make_sequence<SequencePost>(j, "processors", where, [](const json& e, const std::string& w) { return make_post_processor(e, w, {}); });
  if (t == "TemplateProcessing") return std::make_unique<TemplatePost>(j, where);
  if (t == "RobertaProcessing" || t == "BertProcessing") return std::make_unique<ClsSepPost>(j, where);
  if (t == "ByteLevel") return std::make_unique<NoopPost>();  // only trims offsets; ids unchanged
  fail("{}: post-processor type '{}' is not supported (supported: Sequence, TemplateProcessing, RobertaProcessing, "
       "BertProcessing, ByteLevel)",
       where, t);
}

}  // namespace pt::tok
