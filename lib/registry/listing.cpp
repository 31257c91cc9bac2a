#include <algorithm>

#include "core/error.h"
#include "registry/builtins.h"
#include "registry/catalog.h"

namespace pt::registry {

std::vector<Listing> listing(const std::string& kind) {
  register_builtins();
  std::vector<Listing> all = catalog();
  if (kind.empty()) return all;
  std::vector<std::string> kinds;
  std::vector<Listing> out;
  for (const auto& l : all) {
    if (std::find(kinds.begin(), kinds.end(), l.kind) == kinds.end()) kinds.push_back(l.kind);
    if (l.kind == kind) out.push_back(l);
  }
  if (out.empty()) {
    std::string known, hint = did_you_mean(kind, kinds);
    for (const auto& k : kinds) known += (known.empty() ? "" : ", ") + k;
    fail("unknown component kind '{}'{}; kinds: {}", kind, hint.empty() ? "" : " (did you mean '" + hint + "'?)",
         known);
  }
  return out;
}

std::string format_listing(const std::string& kind) {
  std::string out, current;
  size_t width = 0;
  auto items = listing(kind);
  for (const auto& l : items) width = std::max(width, l.name.size());
  for (const auto& l : items) {
    if (l.kind != current) {
      current = l.kind;
      out += (out.empty() ? "" : "\n") + current + ":\n";
    }
    out += fmt::format("  {:<{}}  {}\n", l.name, width, l.help);
  }
  return out;
}

}  // namespace pt::registry
