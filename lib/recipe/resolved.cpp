#include "recipe/resolved.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace pt::recipe {

static void write_atomic(const fs::path& path, const std::string& text) {
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("cannot write '{}'", tmp.string());
    out << text;
    out.flush();
    if (!out) fail("failed writing '{}' (disk full?)", tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) fail("cannot rename '{}' to '{}': {}", tmp.string(), path.string(), ec.message());
}

void write_resolved(const LoadedRecipe& r, const std::string& dir) {
  fs::create_directories(dir);
  write_atomic(fs::path(dir) / kResolvedRecipeFile,
               "# resolved by posttrain; hash " + r.hash + "\n" + r.canonical_yaml);
  write_atomic(fs::path(dir) / kRecipeHashFile, r.hash + "\n");
}

LoadedRecipe load_any(const std::string& path, const std::vector<std::string>& overrides) {
  if (fs::is_directory(path)) {
    fs::path file = fs::path(path) / kResolvedRecipeFile;
    if (!fs::exists(file))
      fail("'{}' is a directory without {}: expected a recipe file, a run directory or a checkpoint", path,
           kResolvedRecipeFile);
    if (!overrides.empty()) fail("--set applies to recipe files, not to the run directory '{}'", path);
    // A resolved recipe is complete and already path-resolved: parse it as is, no bases.
    LoadedRecipe r = from_tree(load_yaml_file(file.string()));
    r.files = {file.string()};
    return r;
  }
  return load_recipe(path, overrides);
}

}  // namespace pt::recipe
