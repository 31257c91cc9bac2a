#include <filesystem>
#include <set>

#include "core/hash.h"
#include "core/log.h"
#include "recipe/inputs.h"
#include "recipe/recipe.h"

namespace fs = std::filesystem;

namespace pt::recipe {

namespace {

// Input paths (recipe/inputs.h) are resolved against the directory of the file that set them.
void resolve_paths(Node& root, const fs::path& dir) {
  if (dir.empty()) return;
  for_each_input(root, [&](const std::string&, Node& n, InputKind kind) {
    const fs::path p(n.scalar);
    if (kind == InputKind::Path && !p.is_absolute()) n.scalar = (dir / p).lexically_normal().string();
  });
}

Node load_with_bases(const std::string& path, std::vector<std::string>& chain) {
  fs::path p = fs::path(path).lexically_normal();
  for (const auto& seen : chain)
    if (fs::path(seen) == p) fail("recipe inheritance cycle: {} -> {}", chain.back(), p.string());
  if (!fs::exists(p)) {
    if (chain.empty()) fail("recipe file '{}' does not exist", p.string());
    fail("{}: base recipe '{}' does not exist", chain.back(), p.string());
  }
  chain.push_back(p.string());
  Node doc = load_yaml_file(p.string());
  if (doc.is_null()) fail_at(Location{p.string(), 1, 1, ""}, "recipe is empty");
  if (!doc.is_map()) fail_at(doc.loc, "a recipe must be a mapping of sections, got {}", doc.kind_name());
  resolve_paths(doc, p.parent_path());

  Node merged = Node::make_map();
  if (const Node* base = doc.find("base")) {
    std::vector<std::string> bases;
    if (base->is_scalar()) bases.push_back(base->scalar);
    else if (base->is_seq())
      for (const auto& b : base->seq) {
        if (!b.is_scalar()) fail_at(b.loc, "'base' entries must be file paths");
        bases.push_back(b.scalar);
      }
    else
      fail_at(base->loc, "'base' must be a file path or a list of file paths");
    for (const auto& b : bases) {
      fs::path bp = fs::path(b).is_absolute() ? fs::path(b) : p.parent_path() / b;
      merge_into(merged, load_with_bases(bp.string(), chain));
    }
    doc.erase("base");
  }
  merge_into(merged, doc);
  return merged;
}

}  // namespace

std::string content_hash(const std::string& text) { return fmt::format("{:016x}", fnv1a64(text)); }

LoadedRecipe from_tree(const Node& tree) {
  LoadedRecipe out;
  out.recipe = parse_section<Recipe>(tree);
  out.resolved = dump_section(out.recipe);
  validate(out.recipe, tree);
  out.canonical_yaml = to_yaml(out.resolved);
  out.hash = content_hash(out.canonical_yaml);
  return out;
}

LoadedRecipe load_recipe(const std::string& path, const std::vector<std::string>& overrides) {
  std::vector<std::string> chain;
  Node tree = load_with_bases(path, chain);
  for (const auto& o : overrides) apply_override(tree, o);
  LoadedRecipe out = from_tree(tree);
  out.files = chain;
  return out;
}

}  // namespace pt::recipe
