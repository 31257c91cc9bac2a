#pragma once
// Internal: builtins.cpp fills the typed registries; catalog() flattens them for `posttrain list`.
#include <vector>

#include "registry/builtins.h"

namespace pt::registry {
std::vector<Listing> catalog();
}  // namespace pt::registry
