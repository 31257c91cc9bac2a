#include "train/trainer.h"


#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "checkpoint/checkpoint.h"
#include "core/error.h"
#include "core/log.h"
#include "model/attention.h"
#include "model/autocast.h"
#include "model/grad_accumulation.h"
#include "optim/schedule.h"
#include "parallel/tensor_parallel.h"
#include "parallel/world.h"
#include "train/batch.h"
#include "train/signals.h"
#include "train/tp_state.h"

namespace pt::train {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Test hook: POSTTRAIN_FAULT=kill_in_step:N kills the process with SIGKILL inside optimizer step N
// (after a backward pass, before the optimizer update), the worst moment for a resume;
// hang_in_step:N stops it there forever (a hung rank); term_in_step:N sends it SIGTERM there (a
// scheduler's stop: it checkpoints after the step and exits for requeue). POSTTRAIN_FAULT_RANK=R
// limits any of them to global rank R.
Trainer::Fault parse_fault() {
  const char* f = std::getenv("POSTTRAIN_FAULT");
  if (!f) return {};
  if (const char* r = std::getenv("POSTTRAIN_FAULT_RANK"))
    if (std::stoi(r) != parallel::World::get().global_rank()) return {};
  const std::string s(f);
  struct Kind {
    const char* key;
    bool hang, term;
  };
  for (const Kind k : {Kind{"kill_in_step:", false, false}, Kind{"hang_in_step:", true, false}, Kind{"term_in_step:", false, true}})
    if (s.rfind(k.key, 0) == 0) return {std::stoll(s.substr(std::string(k.key).size())), k.hang, k.term};
  return {};
}

}  // namespace

void Trainer::StepMetrics::add(const algo::MetricSum& m) {
  auto it = acc.find(m.name);
  if (it == acc.end()) {
    order.push_back(m.name);
    acc.emplace(m.name, std::make_pair(m.sum.to(at::kDouble), m.denominator));
  } else {
    it->second.first += m.sum.to(at::kDouble);
  }
}

Trainer::Trainer(TrainerParts parts) : p_(parts) {}
Trainer::~Trainer() = default;

// The run's phases, in order: geometry and loader options, the algorithm's setup, checkpoint parts
// and their restore, loop parts, the baseline evaluation, training, the final evaluation,
// checkpoint and export.
int Trainer::fit(const std::optional<std::string>& resume_dir) {
  const auto& R = p_.recipe->recipe;
  const auto& world = parallel::World::get();
  geo_ = batch_geometry(R.trainer, R.data.seq_len, world.size());
  PT_CHECK(geo_.problem.empty(), "trainer: {}", geo_.problem);
  const data::LoaderOptions lo = loader_options();
  st_.total_steps = R.trainer.max_steps > 0 ? R.trainer.max_steps : static_cast<int64_t>(data::count_steps(*p_.data, lo));
  if (st_.total_steps == 0) fail("the data yields no complete step of {} rows of {} tokens", lo.rows_per_step, R.data.seq_len);
  setup_algorithm(resume_dir.has_value());
  json restored_data;
  restore(resume_dir, restored_data);
  // A finished run started again: its own checkpoint of the final step already holds this state.
  std::error_code same_ec;
  const bool resumed_final = resume_dir && st_.step >= st_.total_steps &&
                             fs::equivalent(*resume_dir, ckpt::step_dir(R.run_dir(), st_.step), same_ec);
  loader_ = std::make_unique<data::Loader>(*p_.data, data::DocStream::Split::Train, lo,
                                           resume_dir ? &restored_data : nullptr);
  data_state_ = loader_->state();
  build_loop_parts();
  if (st_.step == 0 && evaluator_->at_start()) evaluate();  // the baseline the run improves on

  const int rc = train();
  if (metrics_) metrics_->finish();
  if (rc != 0) return rc;
  if (evaluator_->at_end()) evaluate();
  std::string final_ckpt = "none (checkpoint.save_final: false)";
  if (checkpointer_->final_due()) final_ckpt = resumed_final ? *resume_dir + " (the run had finished; kept as it was)" : checkpoint();
  if (R.checkpoint.save_final_hf) export_final();
  world.barrier();
  for (size_t i = 0; i < last_stats_.size(); ++i)
    log::info("data source {}: {}", p_.data->train_sources()[i].opts.name, last_stats_[i].to_json().dump());
  log::info("trained {} steps, {} tokens ({} trained) in {:.1f}s; last checkpoint {}", st_.step, st_.tokens,
            st_.trained, st_.elapsed_s, final_ckpt);
  log::info("attention ran: {}", model::attention_calls_summary());
  return 0;
}

data::LoaderOptions Trainer::loader_options() const {
  const auto& R = p_.recipe->recipe;
  const auto& world = parallel::World::get();
  data::LoaderOptions lo;
  lo.rows_per_step = geo_.rows_per_step;
  lo.rank = world.rank();
  lo.world = world.size();
  lo.prefetch_steps = std::max(1, R.data.prefetch / std::max(1, lo.rows_per_step));
  if (p_.tokenizer)
    if (auto pad = p_.tokenizer->pad_id()) lo.pad_id = *pad;
  return lo;
}

void Trainer::setup_algorithm(bool resuming) {
  const auto& R = p_.recipe->recipe;
  algo::Context ctx;
  ctx.policy = p_.model;
  ctx.tokenizer = p_.tokenizer;
  ctx.data = p_.data;
  ctx.world = &parallel::World::get();
  ctx.recipe = p_.recipe;
  ctx.device = p_.model->device();
  ctx.rows_per_micro = geo_.rows_per_micro;
  ctx.ce_chunk = R.trainer.ce_chunk_tokens;
  ctx.autocast_bf16 = p_.autocast_bf16;
  ctx.resuming = resuming;
  // ZeRO-3: an algorithm may copy the policy (a frozen reference): every layer present meanwhile.
  const parallel::Present all(p_.dp);
  p_.algorithm->setup(ctx);
}

// Every part of the run's state in the checkpoints, read back from `resume_dir` when given.
void Trainer::restore(const std::optional<std::string>& resume_dir, json& restored_data) {
  const auto& R = p_.recipe->recipe;
  checkpointer_ = std::make_unique<Checkpointer>(R.run_dir(), R.checkpoint);
  checkpointer_->add(model_state(p_.model, p_.tokenizer, p_.dp));
  if (layers_in_shards(p_.model, p_.dp)) checkpointer_->add(sharded_model_state(p_.dp));
  checkpointer_->add(optimizer_state(p_.optimizer, p_.dp));
  checkpointer_->add(rng_state(p_.cuda, p_.model->device()));
  checkpointer_->add(data_state(&data_state_, &restored_data));
  checkpointer_->add(progress_state(&st_));
  checkpointer_->add(algorithm_state(p_.algorithm));
  checkpointer_->add(recipe_state(p_.recipe));
  checkpointer_->add(provenance_state(p_.provenance));
  if (!resume_dir) return;
  checkpointer_->load(*resume_dir);
  place_optimizer_moments(*p_.model, *p_.optimizer);
  log::info("resumed from {} at step {}", *resume_dir, st_.step);
}

// Metrics (rank 0 writes; the other ranks' numbers are reduced into its lines), the evaluator,
// signal handlers, the step strategy.
void Trainer::build_loop_parts() {
  const auto& R = p_.recipe->recipe;
  if (parallel::World::get().is_main())
    metrics_ = std::make_unique<MetricsLog>(R.run_dir(), R.logging, st_.total_steps, st_.step);
  evaluator_ = std::make_unique<Evaluator>(R.trainer.eval, p_.algorithm, p_.model, p_.data, geo_.rows_per_micro);
  install_stop_handlers();
  peak_flops_ = device_peak_flops(p_.cuda, R.logging.peak_tflops);
  fault_ = parse_fault();
  if (!p_.dp) {
    // One data-parallel rank: the same step through the same interface as data parallelism.
    std::vector<std::pair<at::Tensor, bool>> params;
    for (auto& [n, t] : p_.model->named_parameters(true)) params.emplace_back(t, p_.model->tp_split_dim(n) >= 0);
    single_rank_ = std::make_unique<parallel::SingleRank>(
        std::move(params), tensor_parallel() ? p_.model->tp_group().get() : nullptr, *p_.optimizer->adamw);
  }
  strategy_ = p_.dp ? static_cast<parallel::StepStrategy*>(p_.dp) : single_rank_.get();
  p_.model->train(true);
}

// The final model in HF format, written beside the old one and swapped in whole (a kill meanwhile
// leaves the previous model), and the algorithm's own models (PPO's critic).
void Trainer::export_final() {
  const auto& R = p_.recipe->recipe;
  const auto& world = parallel::World::get();
  const std::string out = R.run_dir() + "/model", staged = R.run_dir() + "/.model.tmp";
  if (layers_in_shards(p_.model, p_.dp)) {
    export_hf_layerwise(*p_.model, p_.tokenizer, staged, *p_.dp, world.is_main());
  } else {
    const parallel::Present all(p_.dp);  // ZeRO-3 LoRA: the adapters, gathered by every rank
    const bool merge = R.model.lora && R.model.lora->merge_on_export;
    TpWhole whole(*p_.model, nullptr, world.rank() == 0, world.is_main(), /*trainable_only=*/R.model.lora && !merge);
    if (world.is_main()) {
      fs::remove_all(staged);
      export_hf(*p_.model, p_.tokenizer, staged, merge);
    }
  }
  if (world.is_main()) {
    ckpt::publish_dir(staged, out);
    log::info("final model (HF format) written to {}", out);
  }
  // Replicated on every rank, written by the main one.
  for (auto& [name, m] : p_.algorithm->exports()) {
    if (!world.is_main()) continue;
    const std::string dir = R.run_dir() + "/" + name, tmp = R.run_dir() + "/." + name + ".tmp";
    fs::remove_all(tmp);
    export_hf(*m, p_.tokenizer, tmp, false);
    ckpt::publish_dir(tmp, dir);
    log::info("{} (HF format) written to {}", name, dir);
  }
}

int Trainer::train() {
  const auto& world = parallel::World::get();
  while (st_.step < st_.total_steps) {
    // Every rank must stop at the same step, whichever of them got the signal.
    if (world.allreduce_max(stop_requested() ? 1 : 0)) {
      if (metrics_) metrics_->finish();
      log::warn("signal {} received: checkpointing at step {} and exiting with code {} (requeue)", stop_signal(),
                st_.step, kExitRequeue);
      checkpoint();
      return kExitRequeue;
    }
    if (!train_step()) {
      log::warn("the data ran out after {} of {} steps", st_.step, st_.total_steps);
      break;
    }
    const bool last = st_.step == st_.total_steps;
    if (!last && evaluator_->periodic_due(st_.step)) evaluate();
    if (!last && checkpointer_->periodic_due(st_.step)) checkpoint();
  }
  return 0;
}

bool Trainer::train_step() {
  const auto& R = p_.recipe->recipe;
  const auto t0 = std::chrono::steady_clock::now();
  auto batch = next_batch();
  if (!batch) return false;
  algo::Prepared prep = p_.algorithm->prepare(*batch, true);
  // No update starts: the algorithm used the batch without updating the model (PPO's critic
  // warm-up); the batch still takes one step, with the preparation's metrics.
  const std::vector<size_t>& starts = prep.update_starts;
  const bool frozen = starts.empty();
  const int updates = std::max<int>(1, static_cast<int>(starts.size()));
  for (int u = 0; u < updates && st_.step < st_.total_steps; ++u) {
    const double lr = frozen ? 0.0 : optim::lr_at(R.schedule, R.optimizer.lr, st_.step, st_.total_steps);
    StepMetrics sm;
    if (u == 0)
      for (const auto& m : prep.metrics) sm.add(m);
    std::vector<int64_t> doc_lens;
    double grad_norm = 0;
    if (!frozen) {
      p_.optimizer->set_lr(lr);
      strategy_->zero_grad();
      const size_t end = u + 1 < updates ? starts[u + 1] : prep.micro.size();
      for (size_t m = starts[u]; m < end; ++m) {
        forward_backward(m, prep, sm, m + 1 == end);
        doc_lens.insert(doc_lens.end(), prep.micro[m].doc_lens.begin(), prep.micro[m].doc_lens.end());
      }
      grad_norm = optimizer_update();
    }
    ++st_.step;
    // Token counters and throughput count the data once, on the update that consumed it.
    if (u == 0) {
      st_.tokens += batch->global_tokens;
      st_.trained += batch->global_trained;
    }
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    st_.elapsed_s += dt;
    log_step(*batch, prep, sm, lr, grad_norm, dt, doc_lens);
  }
  data_state_ = std::move(batch->state);
  last_stats_ = std::move(batch->source_stats);
  return true;
}

std::optional<data::StepBatch> Trainer::next_batch() {
  std::optional<data::StepBatch> batch;
  if (!ahead_.empty()) {
    batch = std::move(ahead_.front());
    ahead_.pop_front();
  } else {
    batch = loader_->next();
  }
  const int want = p_.algorithm->lookahead();
  if (!batch || want == 0) return batch;
  // Only batches the run will train on: the run ends after total_steps optimizer steps.
  const int64_t per_batch = std::max(1, p_.algorithm->updates_per_batch());
  const int64_t left = (st_.total_steps - st_.step + per_batch - 1) / per_batch - 1;
  const size_t target = static_cast<size_t>(std::max<int64_t>(0, std::min<int64_t>(want, left)));
  while (ahead_.size() < target) {
    auto more = loader_->next();
    if (!more) break;
    ahead_.push_back(std::move(*more));
  }
  std::vector<const data::StepBatch*> next;
  for (size_t i = 0; i < std::min(target, ahead_.size()); ++i) next.push_back(&ahead_[i]);
  p_.algorithm->look_ahead(std::move(next));
  return batch;
}

void Trainer::forward_backward(size_t index, const algo::Prepared& prep, StepMetrics& sm, bool last) {
  algo::LossOut out;
  model::GradAccumulationScope fused_grads;  // model/grad_accumulation.h
  {
    // bf16 autocast on the model's device; the master weights stay fp32.
    const model::AutocastScope ac(model::bf16_autocast(p_.model->device()), p_.autocast_bf16);
    out = p_.algorithm->loss(prep.micro[index], index, prep);
  }
  strategy_->begin_backward(last);
  out.loss.backward();
  strategy_->end_backward();
  for (const auto& m : out.metrics) sm.add(m);
  if (fault_.step == st_.step + 1) {
    if (fault_.term) {
      fault_.step = -1;  // once
      std::raise(SIGTERM);
      return;
    }
    if (!fault_.hang) std::raise(SIGKILL);
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
  }
}

double Trainer::optimizer_update() {
  // Each rank's loss is already divided by the step's global normalizer: summing the gradients
  // gives the gradient of the global mean.
  const double grad_norm = strategy_->reduce_and_clip(p_.recipe->recipe.trainer.max_grad_norm);
  p_.optimizer->adamw->step();
  strategy_->after_step();
  return grad_norm;
}

void Trainer::log_step(const data::StepBatch& batch, const algo::Prepared&, StepMetrics& sm, double lr,
                       double grad_norm, double dt, const std::vector<int64_t>& doc_lens) {
  const auto& R = p_.recipe->recipe;
  const auto& world = parallel::World::get();
  // One read-back of every metric of the step, then one collective for all of them.
  std::vector<double> sums;
  for (const auto& n : sm.order) sums.push_back(sm.acc.at(n).first.item<double>());
  if (world.size() > 1) sums = world.allreduce_sum(sums);
  Scalars s;
  for (size_t i = 0; i < sm.order.size(); ++i) {
    const double den = sm.acc.at(sm.order[i]).second;
    s.emplace_back(sm.order[i], den > 0 ? sums[i] / den : 0.0);
  }
  s.insert(s.end(), {{"lr", lr},
                     {"grad_norm", grad_norm},
                     {"tokens_per_s", batch.global_tokens / dt},
                     {"trained_tokens_per_s", batch.global_trained / dt},
                     {"packing_efficiency", static_cast<double>(batch.global_tokens) / (batch.global_rows * R.data.seq_len)},
                     {"trained_fraction", static_cast<double>(batch.global_trained) / std::max<int64_t>(1, batch.global_tokens)},
                     {"peak_memory_gb", peak_memory_bytes(p_.cuda) / 1e9},
                     {"step_time_s", dt}});
  if (p_.dp) s.emplace_back("comm_wait_s", p_.dp->take_wait_seconds());
  if (peak_flops_ > 0) {
    const double flops = world.allreduce_sum(step_flops(p_.model->config(), 0, 0, doc_lens) +
                                             step_flops(p_.model->config(), batch.global_tokens, batch.global_trained, {}) /
                                                 world.size());
    s.emplace_back("mfu", flops / dt / (peak_flops_ * world.size() * world.tp_size()));
  }
  s.emplace_back("masked_tokens", static_cast<double>(batch.global_tokens - batch.global_trained));
  if (st_.step % R.logging.every == 0 || st_.step == st_.total_steps) {
    // Cumulative per-source counters of the data stream (what was drawn, cut, dropped, skipped).
    for (size_t i = 0; i < batch.source_stats.size(); ++i) {
      const std::string prefix = "data/" + p_.data->train_sources()[i].opts.name + "/";
      const auto& st = batch.source_stats[i];
      for (auto [k, v] : {std::pair<const char*, uint64_t>{"records", st.records}, {"tokens", st.tokens},
                          {"trained", st.trained}, {"truncated", st.truncated}, {"dropped", st.dropped}, {"bad", st.bad}})
        s.emplace_back(prefix + k, static_cast<double>(v));
    }
  }
  if (metrics_) metrics_->log_step(st_.step, s);
}

void Trainer::evaluate() {
  const auto& world = parallel::World::get();
  // ZeRO-3 gathers each layer from all ranks as it runs, tensor parallelism exchanges activations:
  // every rank runs the (identical) evaluation in step; otherwise rank 0 alone.
  const bool lockstep = (p_.dp && p_.dp->zero_stage() == 3) || tensor_parallel();
  if (world.is_main() || lockstep) {
    // bf16 autocast on the model's device; the master weights stay fp32.
    const model::AutocastScope ac(model::bf16_autocast(p_.model->device()), p_.autocast_bf16);
    auto results = evaluator_->run();
    if (metrics_) metrics_->log_eval(st_.step, results);
  }
  world.barrier();
}

std::string Trainer::checkpoint() {
  // ZeRO-3 keeps layers' parameters only while they run: full fine-tuning saves each rank's shards;
  // LoRA adapters (small) are gathered for the replicated save.
  const bool shards = layers_in_shards(p_.model, p_.dp);
  // With shards, rank 0's HF files hold the rest (embeddings, norms, heads) only.
  const parallel::Present present(p_.dp, shards ? parallel::DataParallel::kRest : parallel::Present::kAll);
  // Tensor parallelism: the group that holds data-parallel rank 0 (where rank 0 writes) gathers
  // whole tensors for the files; ZeRO-3's layers stay in their shards (one directory per slice).
  TpWhole whole(*p_.model, p_.optimizer, parallel::World::get().rank() == 0, parallel::World::get().is_main(),
                /*trainable_only=*/true, shards ? parallel::in_decoder_layer : std::function<bool(const std::string&)>());
  return checkpointer_->save(st_.step);
}

}  // namespace pt::train
