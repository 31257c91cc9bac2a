#include "recipe/recipe.h"

namespace pt::recipe {

std::string json_schema() {
  Recipe r;
  SchemaWriter w;
  r.visit(w);
  nlohmann::json s = w.object_schema();
  s["$schema"] = "http://json-schema.org/draft-07/schema#";
  s["title"] = "posttrain recipe";
  // `base` is consumed before parsing (inheritance), so it is not a Recipe field.
  s["properties"]["base"] = {
      {"description", "recipe(s) this one extends: deep merge, lists replace"},
      {"oneOf", {{{"type", "string"}}, {{"type", "array"}, {"items", {{"type", "string"}}}}}}};
  return s.dump(2) + "\n";
}

}  // namespace pt::recipe
