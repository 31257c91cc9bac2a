#include "train/state_parts.h"

#include <torch/serialize.h>

#include <filesystem>
#include <fstream>

#include "checkpoint/checkpoint.h"
#include "checkpoint/pieces.h"
#include "core/error.h"
#include "core/log.h"
#include "model/safetensors.h"
#include "model/tensor_parallel.h"
#include "optim/sharded_state.h"
#include "parallel/world.h"
#include "provenance/store.h"
#include "recipe/resolved.h"
#include "train/tp_state.h"

namespace pt::train {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail("cannot read {}", path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

json read_json(const std::string& path) {
  try {
    return json::parse(read_text(path));
  } catch (const json::exception& e) {
    fail("{}: not valid JSON: {}", path, e.what());
  }
}

class ModelState : public Stateful {
 public:
  ModelState(model::CausalLM* m, const tok::HfTokenizer* t, const parallel::DataParallel* dp)
      : model_(m), tok_(t), layers_apart_(layers_in_shards(m, dp)) {}
  std::string name() const override { return "model"; }
  void save(const std::string& dir) const override {
    // ZeRO-3: the decoder layers are in model_shards/ (ShardedModelState); the rest is HF files.
    if (layers_apart_)
      export_hf(*model_, tok_, dir + "/model", false, parallel::in_decoder_layer);
    else
      export_hf(*model_, tok_, dir + "/model", false);
    if (model_->has_adapters()) model_->save_state(dir + "/trainable.safetensors");
  }
  // One owner of the weights on resume: the run builds the model from the checkpoint (RunPlan::resume
  // in train/run.cpp) — DIR/model for full fine-tuning, model.path plus DIR/trainable.safetensors
  // for LoRA (after any vocabulary growth), each rank's slices of DIR/model_shards under ZeRO-3 —
  // read once, before anything (data parallelism, the algorithm's frozen copies) copies them.
  void load(const std::string&) override {}

 private:
  model::CausalLM* model_;
  const tok::HfTokenizer* tok_;
  bool layers_apart_;
};

// fsdp ZeRO-3 (full fine-tuning): every rank writes the decoder-layer elements it owns; a resume on
// any number of ranks reads its slices from them (run.cpp) without the full layers on any rank.
class ShardedModelState : public Stateful {
 public:
  explicit ShardedModelState(const parallel::DataParallel* dp) : dp_(dp) {}
  std::string name() const override { return "model shards"; }
  bool per_rank() const override { return true; }
  void save(const std::string& dir) const override {
    std::vector<std::pair<std::string, at::Tensor>> pieces;
    for (const auto& p : dp_->owned_pieces())
      if (parallel::in_decoder_layer(p.name))
        pieces.emplace_back(ckpt::piece_key("param", p.name, p.begin), p.shard.narrow(0, p.offset, p.length));
    const auto& w = parallel::World::get();
    ckpt::write_pieces(ckpt::tp_pieces_dir(dir + "/" + kModelShardsDir, w.tp_rank(), w.tp_size()), w.rank(), w.size(),
                       kModelShardsFormat, pieces);
  }
  void load(const std::string&) override {}  // read while the model is built (ModelState::load says why)

 private:
  const parallel::DataParallel* dp_;
};

class OptimizerState : public Stateful {
 public:
  explicit OptimizerState(optim::Optimizer* o) : opt_(o) {}
  std::string name() const override { return "optimizer"; }
  void save(const std::string& dir) const override { opt_->save(dir + "/optimizer.pt"); }
  void load(const std::string& dir) override { opt_->load(dir + "/optimizer.pt"); }

 private:
  optim::Optimizer* opt_;
};

// fsdp: each rank's moments of the elements it owns (optim/sharded_state.h); any rank count reads them.
class ShardedOptimizerState : public Stateful {
 public:
  ShardedOptimizerState(optim::Optimizer* o, const parallel::DataParallel* dp) : opt_(o), dp_(dp) {}
  std::string name() const override { return "optimizer"; }
  bool per_rank() const override { return true; }
  void save(const std::string& dir) const override {
    const auto& w = parallel::World::get();
    optim::save_sharded(*opt_, dp_->owned_pieces(), dir, w.rank(), w.size(), w.tp_rank(), w.tp_size());
  }
  void load(const std::string& dir) override {
    const auto& w = parallel::World::get();
    optim::load_sharded(*opt_, dp_->owned_pieces(), dir, w.tp_rank(), w.tp_size());
  }

 private:
  optim::Optimizer* opt_;
  const parallel::DataParallel* dp_;
};

class ProgressState : public Stateful {
 public:
  explicit ProgressState(Progress* p) : p_(p) {}
  std::string name() const override { return "progress"; }
  void save(const std::string& dir) const override {
    json ts{{"step", p_->step},       {"total_steps", p_->total_steps}, {"tokens", p_->tokens},
            {"trained", p_->trained}, {"elapsed_s", p_->elapsed_s},     {"world_size", parallel::World::get().size()},
            {"format", kCheckpointFormat}};
    ckpt::write_file_synced(dir + "/trainer_state.json", ts.dump(1) + "\n");
  }
  void load(const std::string& dir) override {
    json ts = read_json(dir + "/trainer_state.json");
    if (ts.value("format", "") != kCheckpointFormat)
      fail("{}/trainer_state.json: not a posttrain checkpoint (format '{}')", dir, ts.value("format", ""));
    // Every rank draws the same global stream and keeps its share of each step's rows, so a different
    // number of ranks continues the same data; only the order of the gradient sums changes.
    const int world = parallel::World::get().size();
    if (ts.at("world_size") != world)
      log::warn("{}: written by a run of {} rank(s), resuming on {}: same data and steps, gradients summed in another "
                "order (not bit-identical)", dir, ts.at("world_size").dump(), world);
    p_->step = ts.at("step");
    p_->tokens = ts.at("tokens");
    p_->trained = ts.at("trained");
    p_->elapsed_s = ts.at("elapsed_s");
  }

 private:
  Progress* p_;
};

class RngState : public Stateful {
 public:
  RngState(bool cuda, at::Device d) : cuda_(cuda), device_(d) {}
  std::string name() const override { return "rng"; }
  void save(const std::string& dir) const override {
    torch::serialize::OutputArchive rng;
    rng.write("cpu", at::detail::getDefaultCPUGenerator().get_state());
    if (cuda_) rng.write("cuda", at::globalContext().defaultGenerator(device_).get_state());
    rng.save_to(dir + "/rng.pt");
  }
  void load(const std::string& dir) override {
    torch::serialize::InputArchive rng;
    rng.load_from(dir + "/rng.pt");
    at::Tensor cpu;
    rng.read("cpu", cpu);
    at::Generator cpu_gen = at::detail::getDefaultCPUGenerator();
    cpu_gen.set_state(cpu);
    if (cuda_) {
      at::Tensor g;
      at::Generator cuda_gen = at::globalContext().defaultGenerator(device_);
      if (rng.try_read("cuda", g)) cuda_gen.set_state(g);
    }
  }

 private:
  bool cuda_;
  at::Device device_;
};

class DataState : public Stateful {
 public:
  DataState(const json* current, json* restored) : current_(current), restored_(restored) {}
  std::string name() const override { return "data"; }
  void save(const std::string& dir) const override {
    ckpt::write_file_synced(dir + "/data_state.json", current_->dump() + "\n");
  }
  void load(const std::string& dir) override { *restored_ = read_json(dir + "/data_state.json"); }

 private:
  const json* current_;
  json* restored_;
};

class AlgorithmState : public Stateful {
 public:
  explicit AlgorithmState(algo::Algorithm* a) : algo_(a) {}
  std::string name() const override { return "algorithm"; }
  void save(const std::string& dir) const override {
    const fs::path sub = fs::path(dir) / "algorithm";
    fs::create_directories(sub);
    algo_->save_state(sub.string());
    if (fs::is_empty(sub)) fs::remove(sub);  // stateless algorithms leave nothing behind
  }
  void load(const std::string& dir) override {
    const fs::path sub = fs::path(dir) / "algorithm";
    algo_->load_state(fs::exists(sub) ? sub.string() : std::string());
  }

 private:
  algo::Algorithm* algo_;
};

class RecipeState : public Stateful {
 public:
  explicit RecipeState(const recipe::LoadedRecipe* r) : r_(r) {}
  std::string name() const override { return "recipe"; }
  void save(const std::string& dir) const override { recipe::write_resolved(*r_, dir); }
  void load(const std::string&) override {}  // compared with the new recipe before anything is built (run.cpp)

 private:
  const recipe::LoadedRecipe* r_;
};

// The lineage of the state a checkpoint holds: the provenance records of the segments that produced
// it (those of the checkpoint it resumed from, then this segment's). The run directory's own
// provenance.jsonl is append-only and also keeps segments whose state no checkpoint holds.
class ProvenanceState : public Stateful {
 public:
  explicit ProvenanceState(const nlohmann::json* current) : current_(current) {}
  std::string name() const override { return "provenance"; }
  void save(const std::string& dir) const override {
    auto records = lineage_;
    if (current_ && !current_->is_null()) records.push_back(*current_);
    provenance::write_all(dir, records);
  }
  void load(const std::string& dir) override {
    const std::string file = dir + "/" + provenance::kFile;
    if (fs::exists(file)) lineage_ = provenance::read(file);  // checkpoints from before provenance have none
  }

 private:
  const nlohmann::json* current_;
  std::vector<nlohmann::json> lineage_;
};

}  // namespace

std::unique_ptr<Stateful> provenance_state(const nlohmann::json* current) {
  return std::make_unique<ProvenanceState>(current);
}

void export_hf_layerwise(model::CausalLM& model, const tok::HfTokenizer* tokenizer, const std::string& dir,
                         parallel::DataParallel& dp, bool write) {
  std::map<int64_t, std::vector<std::pair<std::string, at::Tensor>>> layers;
  for (const auto& [n, p] : model.named_parameters(false))
    if (const int64_t l = parallel::layer_of(n); l >= 0) layers[l].emplace_back(n, p);
  nlohmann::json weight_map = nlohmann::json::object();
  uint64_t total = 0;  // bytes as stored (the embeddings without their padding rows)
  // Tensor parallelism: the group holding data-parallel rank 0 (the writer's) gathers whole tensors.
  const bool tp_active = parallel::World::get().rank() == 0;
  {
    const parallel::Present rest(&dp, parallel::DataParallel::kRest);
    // The rest (embeddings, final norm, heads) whole on the writer, the layers left in their shards.
    TpWhole rest_whole(model, nullptr, tp_active, write, /*trainable_only=*/false, parallel::in_decoder_layer);
    if (write) {
      fs::remove_all(dir);
      export_hf(model, tokenizer, dir, false, parallel::in_decoder_layer);
      // The rest (embeddings, final norm, heads) as written: one file or its own shards.
      const fs::path index = fs::path(dir) / "model.safetensors.index.json";
      if (fs::exists(index)) {
        const json written = read_json(index.string());
        weight_map = written.at("weight_map");
        total = written.at("metadata").at("total_size").get<uint64_t>();
      } else {
        const fs::path rest = fs::path(dir) / "model-rest.safetensors";
        fs::rename(fs::path(dir) / "model.safetensors", rest);
        const model::SafetensorsFile f(rest.string());
        for (const auto& n : f.names()) {
          weight_map[n] = rest.filename().string();
          total += f.info(n).end - f.info(n).begin;
        }
      }
    }
  }  // the rest back to its slices
  const auto& group = model.tp_group();
  for (const auto& [l, tensors] : layers) {
    const parallel::Present layer(&dp, l);
    std::vector<std::pair<std::string, at::Tensor>> out;
    for (const auto& [n, p] : tensors) {
      at::Tensor t = p.detach();
      if (const int dim = model.tp_split_dim(n); dim >= 0 && tp_active) t = model::tp_gather(t, dim, group.get());
      if (write) out.emplace_back(n, t.to(at::kCPU));
    }
    if (write) {  // before the release: replicated tensors are still views of the gathered buffers
      const std::string f = fmt::format("model-layer-{:05d}.safetensors", l);
      for (const auto& [n, t] : out) {
        weight_map[n] = f;
        total += t.nbytes();
      }
      model::save_safetensors((fs::path(dir) / f).string(), out);
    }
  }
  if (write)
    ckpt::write_file_synced((fs::path(dir) / "model.safetensors.index.json").string(),
                            nlohmann::json{{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}}.dump(2) + "\n");
}

bool layers_in_shards(const model::CausalLM* m, const parallel::DataParallel* dp) {
  return dp && dp->zero_stage() == 3 && !m->has_adapters();
}

std::unique_ptr<Stateful> model_state(model::CausalLM* m, const tok::HfTokenizer* t, const parallel::DataParallel* dp) {
  return std::make_unique<ModelState>(m, t, dp);
}
std::unique_ptr<Stateful> sharded_model_state(const parallel::DataParallel* dp) {
  return std::make_unique<ShardedModelState>(dp);
}
std::unique_ptr<Stateful> optimizer_state(optim::Optimizer* o, const parallel::DataParallel* dp) {
  if (dp && dp->sharded()) return std::make_unique<ShardedOptimizerState>(o, dp);
  return std::make_unique<OptimizerState>(o);
}
std::unique_ptr<Stateful> progress_state(Progress* p) { return std::make_unique<ProgressState>(p); }
std::unique_ptr<Stateful> rng_state(bool cuda, at::Device d) { return std::make_unique<RngState>(cuda, d); }
std::unique_ptr<Stateful> data_state(const json* current, json* restored) {
  return std::make_unique<DataState>(current, restored);
}
std::unique_ptr<Stateful> algorithm_state(algo::Algorithm* a) { return std::make_unique<AlgorithmState>(a); }
std::unique_ptr<Stateful> recipe_state(const recipe::LoadedRecipe* r) { return std::make_unique<RecipeState>(r); }

void export_hf(const model::CausalLM& model, const tok::HfTokenizer* tokenizer, const std::string& dir, bool merge,
               const std::function<bool(const std::string&)>& skip) {
  if (skip)
    model.save_pretrained_except(dir, skip);
  else
    model.save_pretrained(dir, merge);
  if (!tokenizer) return;  // a model over its own id space (model.init without a tokenizer)
  tokenizer->save_pretrained(dir);
  if (merge && model.has_adapters()) tokenizer->save_pretrained((fs::path(dir) / "merged").string());
}

}  // namespace pt::train
