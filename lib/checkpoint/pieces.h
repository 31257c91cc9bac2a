#pragma once
// Sharded state that any number of ranks can read back: each rank writes one file
// DIR/shard-RRRRR-of-NNNNN.safetensors holding element ranges of named flat tensors, keyed
// "<kind>/<tensor name>/<first element>" (kind: a moment of the optimizer, or "param"). A reader
// with another cut of the tensors copies, for each range it needs, the overlapping saved ranges.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>

namespace pt::model {
class SafetensorsFile;
}

namespace pt::ckpt {

// Where a checkpoint of fsdp ZeRO-3 (full fine-tuning) keeps every rank's decoder-layer elements.
inline constexpr const char* kModelShardsDir = "model_shards";
inline constexpr const char* kModelShardsFormat = "posttrain-zero3-params-v1";

std::string piece_key(const std::string& kind, const std::string& name, int64_t begin);
// Under tensor parallelism every rank of a tensor-parallel group owns slices of the same names, so
// each slice's pieces live apart: DIR/tp-RRRRR-of-TTTTT/ (DIR itself for tp_size 1).
std::string tp_pieces_dir(const std::string& dir, int tp_rank, int tp_size);
// The tensor_parallel the pieces under DIR were written with (1: no tp-* directories).
int saved_tp_size(const std::string& dir);
// Writes this rank's file into `dir` (created); `metadata` gains format, rank and world.
void write_pieces(const std::string& dir, int rank, int world, const std::string& format,
                  const std::vector<std::pair<std::string, at::Tensor>>& pieces,
                  std::map<std::string, std::string> metadata = {});

class PieceSet {
 public:
  // Opens every rank's file in `dir`; fails naming `dir` when files are missing, of mixed runs, or
  // not of `format`.
  PieceSet(const std::string& dir, const std::string& format);
  ~PieceSet();
  int saved_world() const { return world_; }
  const std::map<std::string, std::string>& metadata() const;  // of rank 0's file
  // Copies elements [begin, begin + dst.numel()) of `kind`/`name` from whichever files hold them into
  // dst; returns how many elements were found.
  int64_t read(const std::string& kind, const std::string& name, int64_t begin, const at::Tensor& dst) const;

 private:
  struct Saved {
    int64_t begin, length;
    const model::SafetensorsFile* file;
    std::string key;
  };
  std::string dir_;
  int world_ = 0;
  std::vector<std::unique_ptr<model::SafetensorsFile>> files_;
  std::map<std::string, std::vector<Saved>> index_;  // "<kind>/<name>" -> saved ranges
};

}  // namespace pt::ckpt
