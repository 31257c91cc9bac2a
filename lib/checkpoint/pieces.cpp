#include "checkpoint/pieces.h"

#include <filesystem>
#include <regex>

#include "core/error.h"
#include "model/safetensors.h"

namespace pt::ckpt {
namespace fs = std::filesystem;

std::string piece_key(const std::string& kind, const std::string& name, int64_t begin) {
  return fmt::format("{}/{}/{}", kind, name, begin);
}

std::string tp_pieces_dir(const std::string& dir, int tp_rank, int tp_size) {
  return tp_size > 1 ? (fs::path(dir) / fmt::format("tp-{:05d}-of-{:05d}", tp_rank, tp_size)).string() : dir;
}

int saved_tp_size(const std::string& dir) {
  static const std::regex re("tp-[0-9]{5}-of-([0-9]{5})");
  int saved = 1;
  if (!fs::is_directory(dir)) return saved;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::smatch m;
    const std::string name = e.path().filename().string();
    if (e.is_directory() && std::regex_match(name, m, re)) saved = std::stoi(m[1]);
  }
  return saved;
}

void write_pieces(const std::string& dir, int rank, int world, const std::string& format,
                  const std::vector<std::pair<std::string, at::Tensor>>& pieces,
                  std::map<std::string, std::string> metadata) {
  fs::create_directories(dir);
  metadata["format"] = format;
  metadata["rank"] = std::to_string(rank);
  metadata["world"] = std::to_string(world);
  model::save_safetensors((fs::path(dir) / fmt::format("shard-{:05d}-of-{:05d}.safetensors", rank, world)).string(),
                          pieces, metadata);
}

PieceSet::PieceSet(const std::string& dir, const std::string& format) : dir_(dir) {
  if (!fs::is_directory(dir)) fail("{}: missing (sharded state expected here)", dir);
  static const std::regex re("shard-([0-9]{5})-of-([0-9]{5})\\.safetensors");
  std::map<int, std::unique_ptr<model::SafetensorsFile>> by_rank;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::smatch m;
    const std::string name = e.path().filename().string();
    if (!std::regex_match(name, m, re)) continue;
    const int w = std::stoi(m[2]);
    if (world_ > 0 && w != world_) fail("{}: shards of runs of {} and {} ranks mixed", dir, world_, w);
    world_ = w;
    auto f = std::make_unique<model::SafetensorsFile>(e.path().string());
    auto it = f->metadata().find("format");
    if (it == f->metadata().end() || it->second != format)
      fail("{}: not a {} shard", e.path().string(), format);
    by_rank[std::stoi(m[1])] = std::move(f);
  }
  if (by_rank.empty() || static_cast<int>(by_rank.size()) != world_ || by_rank.rbegin()->first != world_ - 1)
    fail("{}: {} of {} shards present", dir, by_rank.size(), std::max(world_, 0));
  for (auto& [r, f] : by_rank) {
    for (const auto& n : f->names()) {
      const auto slash = n.rfind('/');
      if (slash == std::string::npos) continue;
      index_[n.substr(0, slash)].push_back({std::stoll(n.substr(slash + 1)), f->info(n).shape.at(0), f.get(), n});
    }
    files_.push_back(std::move(f));
  }
}

PieceSet::~PieceSet() = default;

const std::map<std::string, std::string>& PieceSet::metadata() const { return files_.front()->metadata(); }

int64_t PieceSet::read(const std::string& kind, const std::string& name, int64_t begin, const at::Tensor& dst) const {
  auto it = index_.find(kind + "/" + name);
  if (it == index_.end()) return 0;
  const int64_t end = begin + dst.numel();
  int64_t covered = 0;
  for (const auto& s : it->second) {
    const int64_t lo = std::max(begin, s.begin), hi = std::min(end, s.begin + s.length);
    if (lo >= hi) continue;
    dst.narrow(0, lo - begin, hi - lo).copy_(s.file->view(s.key).narrow(0, lo - s.begin, hi - lo));
    covered += hi - lo;
  }
  return covered;
}

}  // namespace pt::ckpt
