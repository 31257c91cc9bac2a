// The tokenizer.json stage files share these (components.h); the stages themselves live in
// normalizers.cpp, pre_tokenizers.cpp, decoders.cpp and post_processors.cpp.
#include "tokenizer/components.h"

#include "core/error.h"

namespace pt::tok {

using nlohmann::json;

const json& field(const json& j, const char* key, const std::string& where) {
  if (!j.is_object() || !j.contains(key)) fail("{}: missing field '{}'", where, key);
  return j[key];
}
std::string string_field(const json& j, const char* key, const std::string& where) {
  const auto& v = field(j, key, where);
  if (!v.is_string()) fail("{}.{}: expected a string", where, key);
  return v.get<std::string>();
}

}  // namespace pt::tok
