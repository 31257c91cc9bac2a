#pragma once
// AdamW state under fsdp: every rank writes the moments of the parameter elements it owns into
// optimizer/shard-RRRRR-of-NNNNN.safetensors, keyed "<moment>/<parameter name>/<first element>",
// so the state does not depend on how the ranks cut the flat buckets: a run resumed on any number
// of ranks reads, for each piece it now owns, the overlapping pieces of whichever files hold them.
#include <string>
#include <vector>

#include "optim/adamw.h"
#include "parallel/data_parallel.h"

namespace pt::optim {

// Writes this rank's file into DIR/optimizer/.
void save_sharded(const Optimizer& opt, const std::vector<parallel::OwnedPiece>& owned, const std::string& dir,
                  int rank, int world);
// Restores the moments and step of every owned piece from all files in DIR/optimizer/.
void load_sharded(Optimizer& opt, const std::vector<parallel::OwnedPiece>& owned, const std::string& dir);

}  // namespace pt::optim
