#pragma once
#include <ostream>
#include <string>
#include <vector>

namespace pt::recipe {
// `posttrain validate`: "ok  <file>  <hash>" per valid recipe, the error for each invalid one.
// Returns 0 when all are valid, 1 otherwise.
int validate_files(const std::vector<std::string>& files, std::ostream& out, std::ostream& err);
}  // namespace pt::recipe
