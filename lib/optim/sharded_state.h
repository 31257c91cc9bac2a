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

// Where the pieces live in a checkpoint: DIR/optimizer/, or under tensor parallelism (each rank of
// a tensor-parallel group owns other slices of the same parameter names)
// DIR/optimizer/tp-RRRRR-of-TTTTT/ — a resume needs the same tensor_parallel, any data-parallel size.
std::string sharded_dir(const std::string& dir, int tp_rank, int tp_size);
// Writes this rank's file into sharded_dir(...).
void save_sharded(const Optimizer& opt, const std::vector<parallel::OwnedPiece>& owned, const std::string& dir,
                  int rank, int world, int tp_rank = 0, int tp_size = 1);
// Restores the moments and step of every owned piece from all files in sharded_dir(...).
void load_sharded(Optimizer& opt, const std::vector<parallel::OwnedPiece>& owned, const std::string& dir,
                  int tp_rank = 0, int tp_size = 1);

}  // namespace pt::optim
