#include "recipe/validate_files.h"

#include "recipe/recipe.h"

namespace pt::recipe {

int validate_files(const std::vector<std::string>& files, std::ostream& out, std::ostream& err,
                   const std::vector<std::string>& overrides) {
  int bad = 0;
  for (const auto& f : files) {
    try {
      auto r = load_recipe(f, overrides);
      out << "ok    " << f << "  (" << r.recipe.run.name << ", hash " << r.hash << ")\n";
    } catch (const Error& e) {
      ++bad;
      err << "error " << e.what() << "\n";
    }
  }
  return bad ? 1 : 0;
}

}  // namespace pt::recipe
