#pragma once
#include <ostream>
#include <string>
#include <vector>

namespace pt::recipe {
// `posttrain validate`: "ok  <file>  <hash>" per valid recipe, the error for each invalid one (a
// missing file included), each with the `--set` overrides applied as `run` applies them.
// Returns 0 when all are valid, 1 otherwise.
int validate_files(const std::vector<std::string>& files, std::ostream& out, std::ostream& err,
                   const std::vector<std::string>& overrides = {});
}  // namespace pt::recipe
