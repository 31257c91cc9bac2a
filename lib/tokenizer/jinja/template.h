#pragma once
// Rendering a parsed Jinja template with a context, the way transformers renders chat templates.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/jinja/value.h"

namespace pt::jinja {

struct Template;

struct RenderResult {
  std::string text;
  // Byte spans of the output produced inside {% generation %} blocks (assistant content).
  std::vector<std::pair<size_t, size_t>> generation_spans;
};

class CompiledTemplate {
 public:
  CompiledTemplate(const std::string& source, const std::string& name);  // throws pt::Error on syntax errors
  RenderResult render(const std::shared_ptr<Dict>& context) const;
  const std::string& name() const;

 private:
  std::shared_ptr<Template> tpl_;
};

}  // namespace pt::jinja
