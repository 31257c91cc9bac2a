// The composition root of `posttrain run`: recipe -> tokenizer -> data -> model -> algorithm ->
// optimizer -> trainer, in this fixed order, with resume decided before anything is built.
#include "train/run.h"
#include "train/signals.h"

#include <torch/cuda.h>
#include <torch/utils.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <thread>

#include "algo/sft.h"
#include "checkpoint/checkpoint.h"
#include "checkpoint/pieces.h"
#include "core/log.h"
#include "data/stream.h"
#include "model/causal_lm.h"
#include "model/hf_config.h"
#include "model/safetensors.h"
#include "optim/adamw.h"
#include "parallel/comm.h"
#include "parallel/data_parallel.h"
#include "parallel/tensor_parallel.h"
#include "parallel/world.h"
#include "rl/controller.h"
#include "rl/grpo.h"
#include "rl/rollout_link.h"
#include "rl/rollout_queue.h"
#include "recipe/diff.h"
#include "recipe/resolved.h"
#include "registry/builtins.h"
#include "posttrain/build_config.h"
#include "provenance/store.h"
#include "train/provenance.h"
#include "train/reproduce.h"
#include "train/sharded_load.h"
#include "train/run_plan.h"
#include "train/trainer.h"

namespace pt::train {
namespace fs = std::filesystem;

namespace {

std::optional<std::string> resolve_resume(const recipe::LoadedRecipe& loaded, const RunFlags& flags) {
  const auto& R = loaded.recipe;
  std::optional<std::string> dir;
  if (flags.resume == "never") {
    auto complete = ckpt::list_complete(R.run_dir(), false);
    if (!complete.empty() && !flags.force)
      fail("{} already holds checkpoints (newest: {}); use --resume auto to continue it, another run.name, or "
           "--force to start over (older checkpoints are then pruned by checkpoint.keep_last)",
           R.run_dir(), complete.front().dir);
    return std::nullopt;
  }
  if (flags.resume == "auto") {
    auto complete = ckpt::list_complete(R.run_dir(), true);
    if (complete.empty()) return std::nullopt;
    dir = complete.front().dir;
  } else {
    if (auto why = ckpt::problem(flags.resume)) fail("--resume {}: not a complete checkpoint: {}", flags.resume, *why);
    dir = flags.resume;
  }
  auto old = recipe::load_any(*dir);
  std::vector<recipe::Change> breaking;
  for (const auto& c : recipe::diff(old.resolved, loaded.resolved))
    if (!recipe::is_resume_safe(c)) breaking.push_back(c);
  if (!breaking.empty()) {
    std::string d = recipe::format_diff(breaking);
    if (!flags.force)
      fail("refusing to resume from {}: the recipe changed in ways that break an exact resume:\n{}"
           "(--force resumes anyway; the run is then no longer reproducible from one recipe)",
           *dir, d);
    log::warn("resuming from {} despite recipe changes (--force):\n{}", *dir, d);
  }
  return dir;
}

at::Device pick_device(const recipe::Recipe& R) {
  using parallel::Device;
  const bool cuda_ok = PT_HAVE_CUDA && torch::cuda::is_available();
  if (R.parallel.device == Device::Cuda && !cuda_ok) fail("parallel.device: cuda requested but no CUDA device is available");
  if (R.parallel.device == Device::Cpu || !cuda_ok) return at::Device(at::kCPU);
  // One rank per GPU: the rank's place among the ranks of its node picks the device.
  const auto& world = parallel::World::get();
  const int gpus = static_cast<int>(torch::cuda::device_count());
  if (world.size() > 1 && world.local_size() > gpus)
    fail("{} ranks on this node but {} GPU(s): launch one rank per GPU (mpirun -np / srun --ntasks-per-node = {})",
         world.local_size(), gpus, gpus);
  return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(world.local_rank() % gpus));
}

algo::AlgorithmFactory algorithm_factory(const recipe::Recipe& R) {
  const std::string name = recipe::enum_name(R.algorithm.name);
  auto& reg = registry::registries().algorithms;
  if (!reg.contains(name)) {
    std::vector<std::string> have;
    for (const auto& e : reg.entries()) have.push_back(e.name);
    fail("algorithm.name: '{}' is not implemented in this build yet (available: {})", name, fmt::join(have, ", "));
  }
  return reg.get(name);
}

int train_run(const recipe::LoadedRecipe& loaded, const RunFlags& flags);

// This segment's provenance record (rank 0): settings now, inputs hashed meanwhile.
struct Provenance {
  nlohmann::json record;
  std::future<std::vector<InputFingerprint>> inputs;
  bool fresh_dir = false;  // the run directory did not exist before this run
};

Provenance start_provenance(const recipe::LoadedRecipe& loaded, const RunFlags& flags,
                            const std::optional<std::string>& resume, at::Device device, bool autocast,
                            const std::string& dtype) {
  Provenance p;
  if (!parallel::World::get().is_main()) return p;
  p.fresh_dir = !fs::exists(loaded.recipe.run_dir());
  p.record = provenance_settings({&loaded, device, autocast, dtype, flags.argv, flags.overrides, resume});
  // Before the run directory is written: a refused reproduction leaves nothing behind.
  if (!flags.reproduce.empty()) check_reproduction(flags.reproduce, p.record, /*inputs=*/false, flags.force);
  p.inputs = fingerprint_inputs_async(loaded.resolved);
  return p;
}

// Adds the inputs (data shards hashed while indexed, the rest by start_provenance's thread), checks
// them against a run being reproduced, and appends the record to the run directory.
void finish_provenance(Provenance& p, const data::DataSet& ds, const std::string& run_dir, const RunFlags& flags) {
  if (!parallel::World::get().is_main()) return;
  nlohmann::json inputs = nlohmann::json::array();
  for (const auto& in : ds.input_fingerprints()) inputs.push_back(in.to_json());
  for (const auto& in : p.inputs.get()) inputs.push_back(in.to_json());
  p.record["inputs"] = std::move(inputs);
  if (!flags.reproduce.empty()) {
    try {
      check_reproduction(flags.reproduce, p.record, /*inputs=*/true, flags.force);
    } catch (...) {
      if (p.fresh_dir) fs::remove_all(run_dir);
      throw;
    }
  }
  provenance::append(run_dir, p.record);
}

}  // namespace

int run(const recipe::LoadedRecipe& loaded, const RunFlags& flags) {
  if (flags.dry_run || !parallel::launched_by_mpi()) return train_run(loaded, flags);
  auto& world = parallel::World::get();
  world.init();
  log::init(world.global_rank(), world.global_size(), loaded.recipe.logging.level);
  if (algo::rollout_ranks(loaded.recipe.algorithm) > 0) {
    try {
      world.split_rollout(algo::rollout_ranks(loaded.recipe.algorithm));
    } catch (const std::exception& e) {
      log::error("{}", e.what());
      world.abort(2);
    }
  }
  try {
    world.split_tensor_parallel(loaded.recipe.parallel.tensor_parallel);
  } catch (const std::exception& e) {
    log::error("{}", e.what());
    world.abort(2);
  }
  int rc = 0;
  try {
    rc = train_run(loaded, flags);
  } catch (const std::exception& e) {
    // One failing rank must not leave the others waiting in a collective.
    log::error("{}", e.what());
    world.abort(1);
  }
  world.finalize();
  return rc;
}

namespace {

// What the launch must provide for the recipe: ranks for rollouts and tensor parallelism.
void check_launch(const recipe::Recipe& R) {
  const auto& world = parallel::World::get();
  const int rollout_ranks = algo::rollout_ranks(R.algorithm);
  const std::string rollout_key = algo::rollout_ranks_key(R.algorithm);
  if (rollout_ranks > 0 && world.rollout_workers() == 0)
    fail("{} = {} needs an MPI launch with at least {} ranks (mpirun -np {} posttrain run ...)", rollout_key,
         rollout_ranks, rollout_ranks + 1, rollout_ranks + 1);
  if (world.rollout_workers() > 0)
    log::info("rollouts on {} separate rank(s) ({}..{}); training on {} rank(s)", world.rollout_workers(),
              world.global_size() - world.rollout_workers(), world.global_size() - 1, world.size());
  if (R.parallel.tensor_parallel > 1 && world.tp_size() != R.parallel.tensor_parallel)
    fail("parallel.tensor_parallel = {} needs an MPI launch with a multiple of {} ranks (mpirun -np {} posttrain run ...)",
         R.parallel.tensor_parallel, R.parallel.tensor_parallel, R.parallel.tensor_parallel);
  if (R.parallel.data_parallel > 0 && R.parallel.data_parallel != world.size())
    fail("parallel.data_parallel = {} but the run has {} rank(s){} (launch with mpirun -np {}, or set 0 = all ranks)",
         R.parallel.data_parallel, world.size() * world.tp_size(),
         world.tp_size() > 1 ? fmt::format(" = {} data-parallel x tensor_parallel {}", world.size(), world.tp_size())
                             : std::string(),
         R.parallel.data_parallel * world.tp_size());
}

// Communication backend, collective timeout, cores per rank and the seed.
void setup_process(const recipe::Recipe& R, at::Device device) {
  const auto& world = parallel::World::get();
  parallel::resolve_backend(R.parallel.backend, device);
  parallel::World::get().set_timeout(R.parallel.timeout_s);
  if (world.size() > 1) {
    if (device.is_cuda() && world.rollout_workers() > 0)
      fail("{} on CUDA: the weight hand-off to rollout workers runs over MPI on CPU tensors only in this build "
           "(colocated rollouts work on CUDA ranks)", algo::rollout_ranks_key(R.algorithm));
    // Ranks sharing a node share its cores.
    if (!device.is_cuda())
      at::set_num_threads(std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / world.local_size()));
  }
  torch::manual_seed(static_cast<uint64_t>(R.run.seed));
}

// The files ZeRO-3 ranks read their slices from while the model is built (released after).
struct ShardedFiles {
  std::shared_ptr<model::Checkpoint> hf;
};

void grow_vocabulary(model::CausalLM& model, const RunPlan& plan, const recipe::Recipe& R) {
  log::info("vocabulary grows from {} to {} tokens (new embedding / LM-head rows at the mean of the existing ones)",
            model.vocab_size(), plan.tokenizer_vocab);
  const int64_t original = model.vocab_size();
  model.resize_vocab(plan.tokenizer_vocab);
  if (R.model.lora) {
    // The base stays frozen: the new rows train as values of their own (PEFT trainable_token_indices).
    model.train_new_rows_with_lora(original);
    log::info("LoRA: the {} new token rows (ids {}..{}) train with the adapters", plan.tokenizer_vocab - original,
              original, plan.tokenizer_vocab - 1);
  }
}

// The model as the plan says: created or loaded (each ZeRO-3 rank deferring its slices to the
// files), tensor-parallel slices, vocabulary grown, LoRA state resumed, new-token-only training.
std::unique_ptr<model::CausalLM> build_model(const RunPlan& plan, const recipe::Recipe& R, at::Device device,
                                             ShardedFiles& files, const tok::HfTokenizer* tokenizer) {
  const auto& world = parallel::World::get();
  model::ModelOptions mo = R.model;
  mo.dtype = plan.dtype;
  mo.path = plan.model_path;
  if (!plan.created) mo.init.reset();  // a created model resumes from its saved weights
  mo.value_head = algo::policy_value_head(R.algorithm);
  if (mo.init && tokenizer) {
    auto widen = [](std::optional<int32_t> i) { return i ? std::optional<int64_t>(*i) : std::nullopt; };
    const auto& bos = tokenizer->bos_token();  // HfTokenizer has eos_id() and pad_id(), no bos_id()
    mo.init->bos_token_id = widen(bos ? tokenizer->tokenizer().token_to_id(*bos) : std::nullopt);
    mo.init->eos_token_id = widen(tokenizer->eos_id());
    mo.init->pad_token_id = widen(tokenizer->pad_id());
  }
  model::LoadContext ctx;
  if (plan.sharded_load) {
    files.hf = std::make_shared<model::Checkpoint>(mo.path);
    ctx.defer_param = [f = files.hf, rest = plan.rest_sharded](const std::string& name) {
      return parallel::in_decoder_layer(name) || (rest && f->contains(name));
    };
  }
  if (world.tp_size() > 1) {
    ctx.tp = parallel::make_tp_group(R.parallel.backend, device);
    log::info("tensor parallelism: rank {} of {} in its group, data-parallel rank {} of {}", world.tp_rank(),
              world.tp_size(), world.rank(), world.size());
  }
  auto model = model::CausalLM::from_pretrained(mo, device, ctx);
  if (world.tp_size() > 1) {
    int64_t bytes = 0;
    for (const auto& [n, p] : model->named_parameters(false)) bytes += p.nbytes();
    log::info("tensor parallelism: {:.3f} MB of parameters on this rank (split over {} ranks: attention heads, MLP "
              "width, vocabulary rows)", bytes / 1e6, world.tp_size());
  }
  PT_CHECK(model->vocab_size() == plan.model_vocab, "run plan: model {} has vocab_size {}, the plan read {}",
           plan.model_path, model->vocab_size(), plan.model_vocab);
  if (plan.grow_vocab) grow_vocabulary(*model, plan, R);
  // After any growth: a LoRA checkpoint holds the new rows among its trainable tensors.
  if (plan.resume && R.model.lora) model->load_state(*plan.resume + "/trainable.safetensors");
  if (R.tokenizer.train_new_tokens_only) {
    model->train_rows_from(plan.original_vocab);
    log::info("training only the {} new token rows (ids {}..{}); every other parameter is frozen",
              model->vocab_size() - plan.original_vocab, plan.original_vocab, model->vocab_size() - 1);
  }
  return model;
}

// Data parallelism (several ranks, or sharding asked for): gradients go through buckets
// (parallel/data_parallel.h) and the optimizer steps what this rank owns.
std::unique_ptr<parallel::DataParallel> build_data_parallel(const RunPlan& plan, const recipe::Recipe& R,
                                                            model::CausalLM& model, at::Device device,
                                                            ShardedFiles& files) {
  const auto& world = parallel::World::get();
  std::vector<parallel::TrainableParam> params;
  for (auto& [n, p] : model.named_parameters(true)) params.push_back({n, p, model.is_decay_param(n)});
  if (params.empty()) fail("the model has no trainable parameters");
  std::shared_ptr<parallel::Comm> comm = parallel::make_comm(R.parallel.backend, device);
  std::shared_ptr<parallel::Comm> gathers = plan.zero3 ? parallel::make_comm(R.parallel.backend, device) : comm;
  parallel::ParamSource source;
  if (plan.sharded_load)
    source = sharded_source(files.hf,
                            plan.from_shards ? open_model_shards(*plan.resume, world.tp_rank(), world.tp_size()) : nullptr,
                            model);
  auto dp = std::make_unique<parallel::DataParallel>(std::move(params), comm, R.parallel, gathers, source);
  if (plan.sharded_load)
    log::info("ZeRO-3: each rank read only its own slices of the decoder layers from {}",
              (plan.from_shards ? fs::path(*plan.resume) / kModelShardsDir : fs::path(plan.model_path)).string());
  files.hf.reset();
  if (plan.zero3) model.set_layer_hooks(dp.get());
  if (world.tp_size() > 1)
    dp->set_tensor_parallel(model.tp_group().get(), [m = &model](const std::string& n) { return m->tp_split_dim(n) >= 0; });
  const auto b = dp->bytes();
  log::info("{} over {} rank(s) ({}): parameters {:.3f} MB, gradients {:.3f} MB, optimizer state {:.3f} MB on this rank",
            dp->sharded() ? fmt::format("fsdp zero-{}", dp->zero_stage()) : std::string("ddp"), world.size(),
            comm->name(), b.params / 1e6, b.grads / 1e6, b.optimizer / 1e6);
  return dp;
}

int train_run(const recipe::LoadedRecipe& loaded, const RunFlags& flags) {
  registry::register_builtins();
  log::set_level(loaded.recipe.logging.level);
  if (flags.dry_run) {
    std::cout << plan(loaded);
    std::cout << "dry run: nothing trained, nothing written\n";
    return 0;
  }
  const auto& R = loaded.recipe;
  auto factory = algorithm_factory(R);
  const auto& world = parallel::World::get();
  check_launch(R);
  const auto resume = resolve_resume(loaded, flags);
  const at::Device device = pick_device(R);
  auto tok_holder = load_tokenizer(R, /*required=*/true);
  const tok::HfTokenizer* tokenizer = tok_holder ? &*tok_holder : nullptr;
  const RunPlan plan = make_run_plan(R, resume, device.is_cuda(), tokenizer);
  for (const auto& w : plan.warnings) log::warn("{}", w);
  Provenance prov = start_provenance(loaded, flags, resume, device, plan.autocast_bf16, recipe::enum_name(plan.dtype));
  // Written before anything else so that a run directory always says what produced it.
  if (world.is_main()) recipe::write_resolved(loaded, R.run_dir());
  log::info("run {}: resolved recipe written to {}/{} (hash {})", R.run.name, R.run_dir(), recipe::kResolvedRecipeFile,
            loaded.hash);
  setup_process(R, device);

  ShardedFiles files;
  auto model = build_model(plan, R, device, files, tokenizer);
  if (world.is_rollout_worker()) {
    // Multi-turn episodes run whole on the worker: it holds the recipe's environment.
    std::unique_ptr<rl::EpisodeStage> episodes;
    if (R.algorithm.name == algo::Name::Grpo)
      episodes = rl::make_episode_stage(R.algorithm.grpo.environment,
                                        {registry::make_reward, registry::make_environment, rl::chat_template_label(R)},
                                        *model, tokenizer);
    // A stop signal (Slurm, mpirun forwarding SIGTERM) is the training ranks' to act on: they
    // checkpoint, which needs the results of the batches in flight, then release the workers.
    install_stop_handlers();
    return rl::serve_rollouts(*model, tokenizer, algo::rollout_max_batch(R.algorithm), plan.autocast_bf16, episodes.get());
  }

  tok::MaskOptions masks;
  masks.train_roles = R.tokenizer.train_roles;
  masks.last_turn_only = R.tokenizer.last_turn_only;
  // With max_steps the mixture repeats as often as the steps need; otherwise trainer.epochs passes.
  const int passes = R.trainer.max_steps > 0 ? (1 << 20) : R.trainer.epochs;
  data::DataSet ds(R.data, tokenizer, masks, static_cast<uint64_t>(R.run.seed), model->vocab_size(), passes);
  log::info("data: {} training source(s), {} held-out records; model {} ({} parameters) on {}", ds.train_sources().size(),
            ds.num_eval_records(), model->config().architecture, model->config().num_parameters(true), device.str());
  finish_provenance(prov, ds, R.run_dir(), flags);

  auto algorithm = factory(R);
  std::unique_ptr<parallel::DataParallel> dp;
  optim::Optimizer optimizer;
  if (world.size() > 1 || R.parallel.strategy == parallel::Strategy::Fsdp) {
    dp = build_data_parallel(plan, R, *model, device, files);
    optimizer = optim::make_optimizer(R.optimizer, dp->optimizer_params(true), dp->optimizer_params(false));
  } else {
    optimizer = optim::make_optimizer(R.optimizer, *model);
  }
  TrainerParts parts;
  parts.recipe = &loaded;
  parts.tokenizer = tokenizer;
  parts.data = &ds;
  parts.model = model.get();
  parts.optimizer = &optimizer;
  parts.dp = dp.get();
  parts.algorithm = algorithm.get();
  parts.cuda = plan.cuda;
  parts.autocast_bf16 = plan.autocast_bf16;
  parts.provenance = &prov.record;
  Trainer trainer(parts);
  const int rc = trainer.fit(resume);
  rl::stop_rollout_workers();
  return rc;
}

}  // namespace

}  // namespace pt::train
