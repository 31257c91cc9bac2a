#pragma once
// The recipe keys that name a run's inputs, in one table: files and directories (resolved against
// the directory of the recipe file that set them, and fingerprinted into the run's provenance) and
// commands (started with sh -c; their executable and script files are fingerprinted).
#include <string>

#include "recipe/node.h"

namespace pt::recipe {

enum class InputKind { Path, Command };

// f(key, node, kind) for every input key present in `root` (a recipe tree, before or after merging):
// key as "data.sources[0].path". Only scalar, non-empty values are passed.
template <class N, class F>
void for_each_input(N& root, F&& f) {
  auto get = [](N* n, std::initializer_list<const char*> keys) -> N* {
    for (const char* k : keys) {
      if (!n || !n->is_map()) return nullptr;
      n = n->find(k);
    }
    return n;
  };
  auto visit = [&](N* n, const std::string& key, InputKind kind) {
    if (n && n->is_scalar() && !n->scalar.empty()) f(key, *n, kind);
  };
  visit(get(&root, {"model", "path"}), "model.path", InputKind::Path);
  visit(get(&root, {"tokenizer", "path"}), "tokenizer.path", InputKind::Path);
  visit(get(&root, {"tokenizer", "add_tokens_file"}), "tokenizer.add_tokens_file", InputKind::Path);
  // chat_template names a template of the tokenizer unless it is a .jinja file.
  if (N* t = get(&root, {"tokenizer", "chat_template"}); t && t->is_scalar()) {
    const std::string& s = t->scalar;
    if (s.size() > 6 && s.compare(s.size() - 6, 6, ".jinja") == 0) visit(t, "tokenizer.chat_template", InputKind::Path);
  }
  for (const char* list : {"sources", "eval_sources"})
    if (N* srcs = get(&root, {"data", list}); srcs && srcs->is_seq())
      for (size_t i = 0; i < srcs->seq.size(); ++i)
        visit(get(&srcs->seq[i], {"path"}), "data." + std::string(list) + "[" + std::to_string(i) + "].path",
              InputKind::Path);
  visit(get(&root, {"algorithm", "dpo", "reference_path"}), "algorithm.dpo.reference_path", InputKind::Path);
  visit(get(&root, {"trainer", "eval", "tasks"}), "trainer.eval.tasks", InputKind::Path);
  visit(get(&root, {"algorithm", "grpo", "reference_path"}), "algorithm.grpo.reference_path", InputKind::Path);
  if (N* rw = get(&root, {"algorithm", "grpo", "rewards"}); rw && rw->is_seq())
    for (size_t i = 0; i < rw->seq.size(); ++i) {
      const std::string key = "algorithm.grpo.rewards[" + std::to_string(i) + "]";
      visit(get(&rw->seq[i], {"model"}), key + ".model", InputKind::Path);
      visit(get(&rw->seq[i], {"command"}), key + ".command", InputKind::Command);
    }
  visit(get(&root, {"algorithm", "distill", "teacher"}), "algorithm.distill.teacher", InputKind::Path);
}

}  // namespace pt::recipe
