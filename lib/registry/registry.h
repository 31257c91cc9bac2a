#pragma once
// Typed factories by name. Populated only by register_builtins() (builtins.cpp) — no static
// self-registration, which static libraries silently drop when nothing references the object.
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"

namespace pt {

template <class Factory>
class Registry {
 public:
  struct Entry {
    std::string name;
    std::string help;
    Factory factory;
  };

  explicit Registry(std::string kind) : kind_(std::move(kind)) {}

  void add(std::string name, std::string help, Factory factory) {
    for (const auto& e : entries_)
      if (e.name == name) fail("{} '{}' registered twice", kind_, name);
    entries_.push_back({std::move(name), std::move(help), std::move(factory)});
  }

  bool contains(const std::string& name) const { return find(name) != nullptr; }

  const Factory& get(const std::string& name) const {
    if (const Entry* e = find(name)) return e->factory;
    std::string hint = did_you_mean(name, names());
    std::string known;
    for (const auto& n : names()) known += (known.empty() ? "" : ", ") + n;
    fail("unknown {} '{}'{}; registered: {}", kind_, name, hint.empty() ? "" : " (did you mean '" + hint + "'?)",
         known.empty() ? "(none)" : known);
  }

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : entries_) out.push_back(e.name);
    return out;
  }
  const std::vector<Entry>& entries() const { return entries_; }
  const std::string& kind() const { return kind_; }

 private:
  const Entry* find(const std::string& name) const {
    for (const auto& e : entries_)
      if (e.name == name) return &e;
    return nullptr;
  }
  std::string kind_;
  std::vector<Entry> entries_;
};

}  // namespace pt
