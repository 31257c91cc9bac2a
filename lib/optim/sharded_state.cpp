#include "optim/sharded_state.h"

#include <filesystem>
#include <map>
#include <memory>
#include <regex>
#include <set>

#include "core/error.h"
#include "model/safetensors.h"

namespace pt::optim {
namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "posttrain-zero-adamw-v1";
const char* const kMoments[] = {"exp_avg", "exp_avg_sq"};

torch::optim::AdamWParamState* state_of(const Optimizer& opt, const at::Tensor& shard) {
  auto& st = const_cast<torch::optim::AdamW&>(*opt.adamw).state();
  auto it = st.find(shard.unsafeGetTensorImpl());
  return it == st.end() ? nullptr : static_cast<torch::optim::AdamWParamState*>(it->second.get());
}

}  // namespace

void save_sharded(const Optimizer& opt, const std::vector<parallel::OwnedPiece>& owned, const std::string& dir,
                  int rank, int world) {
  const fs::path sub = fs::path(dir) / "optimizer";
  fs::create_directories(sub);
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  int64_t step = 0;
  for (const auto& p : owned) {
    const auto* s = state_of(opt, p.shard);
    if (!s) continue;  // no update yet: nothing to keep
    step = s->step();
    tensors.emplace_back(fmt::format("exp_avg/{}/{}", p.name, p.begin), s->exp_avg().narrow(0, p.offset, p.length));
    tensors.emplace_back(fmt::format("exp_avg_sq/{}/{}", p.name, p.begin),
                         s->exp_avg_sq().narrow(0, p.offset, p.length));
  }
  const std::string file = (sub / fmt::format("shard-{:05d}-of-{:05d}.safetensors", rank, world)).string();
  model::save_safetensors(file, tensors,
                          {{"format", kFormat}, {"step", std::to_string(step)}, {"world", std::to_string(world)}});
}

void load_sharded(Optimizer& opt, const std::vector<parallel::OwnedPiece>& owned, const std::string& dir) {
  const fs::path sub = fs::path(dir) / "optimizer";
  if (!fs::is_directory(sub))
    fail("{}: no optimizer/ directory — the checkpoint was not written by parallel.strategy: fsdp (resume it with "
         "the strategy it was saved with)", dir);
  static const std::regex re("shard-([0-9]{5})-of-([0-9]{5})\\.safetensors");
  std::vector<std::unique_ptr<model::SafetensorsFile>> files;
  int saved_world = -1;
  std::set<int> ranks;
  for (const auto& e : fs::directory_iterator(sub)) {
    std::smatch m;
    const std::string name = e.path().filename().string();
    if (!std::regex_match(name, m, re)) continue;
    const int w = std::stoi(m[2]);
    if (saved_world >= 0 && w != saved_world) fail("{}: shards of runs of {} and {} ranks mixed", sub.string(), saved_world, w);
    saved_world = w;
    ranks.insert(std::stoi(m[1]));
    files.push_back(std::make_unique<model::SafetensorsFile>(e.path().string()));
    const auto& md = files.back()->metadata();
    auto f = md.find("format");
    if (f == md.end() || f->second != kFormat) fail("{}: not a posttrain fsdp optimizer shard", e.path().string());
  }
  if (files.empty() || static_cast<int>(ranks.size()) != saved_world || *ranks.rbegin() != saved_world - 1)
    fail("{}: {} of {} optimizer shards present", sub.string(), files.size(), std::max(saved_world, 0));
  const int64_t step = std::stoll(files.front()->metadata().at("step"));
  if (step == 0) return;  // saved before the first update

  // name -> saved pieces (first element, length, file)
  struct Saved {
    int64_t begin, length;
    const model::SafetensorsFile* file;
  };
  std::map<std::string, std::vector<Saved>> index;
  for (const auto& f : files)
    for (const auto& n : f->names()) {
      if (n.rfind("exp_avg/", 0) != 0) continue;
      const auto slash = n.rfind('/');
      index[n.substr(8, slash - 8)].push_back({std::stoll(n.substr(slash + 1)), f->info(n).shape.at(0), f.get()});
    }

  auto& st = opt.adamw->state();
  for (const auto& p : owned) {
    const void* key = p.shard.unsafeGetTensorImpl();
    if (!st.count(const_cast<void*>(key))) {
      auto s = std::make_unique<torch::optim::AdamWParamState>();
      s->step(step);
      s->exp_avg(at::zeros_like(p.shard));
      s->exp_avg_sq(at::zeros_like(p.shard));
      st[const_cast<void*>(key)] = std::move(s);
    }
    auto* s = static_cast<torch::optim::AdamWParamState*>(st[const_cast<void*>(key)].get());
    int64_t covered = 0;
    auto it = index.find(p.name);
    if (it != index.end())
      for (const auto& sv : it->second) {
        const int64_t lo = std::max(p.begin, sv.begin), hi = std::min(p.begin + p.length, sv.begin + sv.length);
        if (lo >= hi) continue;
        for (const char* m : kMoments) {
          const std::string n = fmt::format("{}/{}/{}", m, p.name, sv.begin);
          at::Tensor dst = std::string(m) == "exp_avg" ? s->exp_avg() : s->exp_avg_sq();
          dst.narrow(0, p.offset + (lo - p.begin), hi - lo).copy_(sv.file->view(n).narrow(0, lo - sv.begin, hi - lo));
        }
        covered += hi - lo;
      }
    if (covered != p.length)
      fail("{}: the optimizer shards cover {} of the {} elements of {} from element {} (a checkpoint of another model?)",
           sub.string(), covered, p.length, p.name, p.begin);
  }
}

}  // namespace pt::optim
