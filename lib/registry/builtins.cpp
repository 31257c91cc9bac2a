#include "registry/builtins.h"

#include <mutex>

#include "registry/catalog.h"

namespace pt::registry {

namespace {
std::vector<Listing>& entries() {
  static std::vector<Listing> e;
  return e;
}
void add(const char* kind, const char* name, const char* help) { entries().push_back({kind, name, help}); }
}  // namespace

void register_builtins() {
  static std::once_flag once;
  std::call_once(once, [] {
    add("architecture", "LlamaForCausalLM", "Llama 2/3/3.1/3.2 (llama3 RoPE scaling), GQA, optional tied embeddings");
  });
}

std::vector<Listing> catalog() { return entries(); }

}  // namespace pt::registry
