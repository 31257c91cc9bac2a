#include "train/trainer.h"

#include <ATen/autocast_mode.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/serialize.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "checkpoint/checkpoint.h"
#include "core/error.h"
#include "core/log.h"
#include "data/loader.h"
#include "optim/schedule.h"
#include "parallel/world.h"
#include "recipe/resolved.h"
#include "train/batch.h"
#include "train/evaluate.h"
#include "train/metrics.h"
#include "train/signals.h"

namespace pt::train {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// bf16 autocast for the forward pass; parameters (the master weights) stay fp32.
struct AutocastGuard {
  bool on;
  explicit AutocastGuard(bool enable) : on(enable) {
    if (on) {
      at::autocast::set_autocast_enabled(at::kCUDA, true);
      at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    }
  }
  ~AutocastGuard() {
    if (on) {
      at::autocast::set_autocast_enabled(at::kCUDA, false);
      at::autocast::clear_cache();
    }
  }
};

// Test hook: POSTTRAIN_FAULT=kill_in_step:N kills the process with SIGKILL inside optimizer step N
// (after a backward pass, before the optimizer update), the worst moment for a resume.
int64_t kill_in_step() {
  const char* f = std::getenv("POSTTRAIN_FAULT");
  if (!f) return -1;
  std::string s(f);
  const std::string key = "kill_in_step:";
  return s.rfind(key, 0) == 0 ? std::stoll(s.substr(key.size())) : -1;
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail("cannot read {}", path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

}  // namespace

Trainer::Trainer(TrainerParts parts) : p_(parts) {}

std::string Trainer::save_checkpoint(const json& data_state) {
  const auto& R = p_.recipe->recipe;
  const bool lora = R.model.lora.has_value();
  auto write = [&](const std::string& dir) {
    const std::string model_dir = dir + "/model";
    p_.model->save_pretrained(model_dir, false);
    p_.tokenizer->save_pretrained(model_dir);
    if (lora) p_.model->save_state(dir + "/trainable.safetensors");
    p_.optimizer->save(dir + "/optimizer.pt");
    torch::serialize::OutputArchive rng;
    rng.write("cpu", at::detail::getDefaultCPUGenerator().get_state());
    if (p_.cuda) rng.write("cuda", at::globalContext().defaultGenerator(p_.model->device()).get_state());
    rng.save_to(dir + "/rng.pt");
    ckpt::write_file_synced(dir + "/data_state.json", data_state.dump() + "\n");
    json ts{{"step", st_.step},         {"total_steps", st_.total_steps}, {"tokens", st_.tokens},
            {"trained", st_.trained},   {"elapsed_s", st_.elapsed_s},
            {"world_size", parallel::World::get().size()},
            {"format", "posttrain-checkpoint-v1"}};
    ckpt::write_file_synced(dir + "/trainer_state.json", ts.dump(1) + "\n");
    recipe::write_resolved(*p_.recipe, dir);
  };
  const auto& world = parallel::World::get();
  // Replicated data parallelism: every rank holds the same weights, optimizer and data state, so
  // rank 0 writes the checkpoint and the others wait for it to be complete.
  std::string dir = ckpt::checkpoints_dir(R.run_dir()) + fmt::format("/step-{:08d}", st_.step);
  if (world.is_main()) {
    dir = ckpt::save(R.run_dir(), st_.step, write, R.checkpoint.keep_last);
    log::info("checkpoint saved: {}", dir);
  }
  world.barrier();
  return dir;
}

void Trainer::restore(const std::string& dir, json* data_state) {
  json ts = json::parse(read_text(dir + "/trainer_state.json"));
  if (ts.value("format", "") != "posttrain-checkpoint-v1")
    fail("{}/trainer_state.json: not a posttrain checkpoint (format '{}')", dir, ts.value("format", ""));
  const int world = parallel::World::get().size();
  if (ts.at("world_size") != world)
    fail("{}: written by a run of {} ranks, this one has {} (an exact resume needs the same data-parallel size)", dir,
         ts.at("world_size").dump(), world);
  st_.step = ts.at("step");
  st_.tokens = ts.at("tokens");
  st_.trained = ts.at("trained");
  st_.elapsed_s = ts.at("elapsed_s");
  p_.optimizer->load(dir + "/optimizer.pt");
  torch::serialize::InputArchive rng;
  rng.load_from(dir + "/rng.pt");
  at::Tensor cpu;
  rng.read("cpu", cpu);
  at::Generator cpu_gen = at::detail::getDefaultCPUGenerator();
  cpu_gen.set_state(cpu);
  if (p_.cuda) {
    at::Tensor g;
    at::Generator cuda_gen = at::globalContext().defaultGenerator(p_.model->device());
    if (rng.try_read("cuda", g)) cuda_gen.set_state(g);
  }
  *data_state = json::parse(read_text(dir + "/data_state.json"));
}

int Trainer::fit(const std::optional<std::string>& resume_dir) {
  const auto& R = p_.recipe->recipe;
  const auto& T = R.trainer;
  const int seq_len = R.data.seq_len;
  const auto& world = parallel::World::get();
  data::LoaderOptions lo;
  lo.rows_per_step = T.global_batch_tokens / seq_len;
  lo.rank = world.rank();
  lo.world = world.size();
  const int micro_rows = std::max(1, (T.micro_batch_tokens > 0 ? T.micro_batch_tokens : seq_len) / seq_len);
  lo.prefetch_steps = std::max(1, R.data.prefetch / std::max(1, lo.rows_per_step));
  if (auto pad = p_.tokenizer->pad_id()) lo.pad_id = *pad;

  st_.total_steps = T.max_steps > 0 ? T.max_steps : static_cast<int64_t>(data::count_steps(*p_.data, lo));
  if (st_.total_steps == 0) fail("the data yields no complete step of {} rows of {} tokens", lo.rows_per_step, seq_len);

  json data_state;
  if (resume_dir) {
    restore(*resume_dir, &data_state);
    log::info("resumed from {} at step {}", *resume_dir, st_.step);
  }
  data::Loader loader(*p_.data, data::DocStream::Split::Train, lo, resume_dir ? &data_state : nullptr);
  // Only rank 0 writes metrics; the other ranks' numbers are reduced into its lines.
  std::unique_ptr<MetricsLog> metrics;
  if (world.is_main()) metrics = std::make_unique<MetricsLog>(R.run_dir(), R.logging, st_.total_steps, st_.step);

  const bool has_eval = p_.data->num_eval_records() > 0;
  std::vector<GenerationExample> gen;
  if (has_eval && T.eval.generate) gen = generation_examples(*p_.data);
  std::vector<int32_t> stop_ids;
  if (auto e = p_.tokenizer->eos_id()) stop_ids.push_back(*e);
  if (auto e = p_.model->config().eos_token_id) stop_ids.push_back(static_cast<int32_t>(*e));
  auto run_eval = [&] {
    if (!has_eval) return;
    if (world.is_main()) {
      AutocastGuard ac(p_.autocast_bf16);
      metrics->log_eval(st_.step, evaluate(*p_.model, *p_.data, T.eval, micro_rows, T.ce_chunk_tokens, gen, stop_ids));
    }
    world.barrier();
  };

  install_stop_handlers();
  const double peak = device_peak_flops(p_.cuda, R.logging.peak_tflops);
  const int64_t fault_step = kill_in_step();
  std::vector<at::Tensor> params;
  for (auto& [n, t] : p_.model->named_parameters(true)) params.push_back(t);
  p_.model->train(true);
  if (st_.step == 0) run_eval();  // the baseline the run improves on

  while (st_.step < st_.total_steps) {
    // Every rank must stop at the same step, whichever of them got the signal.
    if (world.allreduce_max(stop_requested() ? 1 : 0)) {
      if (metrics) metrics->finish();
      log::warn("signal {} received: checkpointing at step {} and exiting with code {} (requeue)", stop_signal(),
                st_.step, kExitRequeue);
      save_checkpoint(loader.state());
      return kExitRequeue;
    }
    const auto t0 = std::chrono::steady_clock::now();
    auto batch = loader.next();
    if (!batch) {
      log::warn("the data ran out after {} of {} steps", st_.step, st_.total_steps);
      break;
    }
    const double lr = optim::lr_at(R.schedule, R.optimizer.lr, st_.step, st_.total_steps);
    p_.optimizer->set_lr(lr);
    p_.optimizer->adamw->zero_grad();
    double loss_sum = 0;
    std::vector<int64_t> doc_lens;
    for (size_t b = 0; b < batch->rows.size(); b += micro_rows) {
      auto mb = make_micro_batch(batch->rows, b, std::min(batch->rows.size(), b + micro_rows), p_.model->device());
      algo::LossOut out;
      {
        AutocastGuard ac(p_.autocast_bf16);
        out = p_.algorithm->micro_step(*p_.model, mb, static_cast<double>(batch->global_trained));
      }
      out.loss.backward();
      loss_sum += out.loss_sum;
      doc_lens.insert(doc_lens.end(), mb.doc_lens.begin(), mb.doc_lens.end());
      if (fault_step == st_.step + 1) std::raise(SIGKILL);
    }
    if (world.size() > 1) {
      // Each rank's loss is already divided by the step's global trained tokens: summing the
      // gradients gives the gradient of the global mean.
      std::vector<at::Tensor> grads;
      for (auto& p : params) {
        if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
        grads.push_back(p.grad());
      }
      world.allreduce_sum(grads);
      loss_sum = world.allreduce_sum(loss_sum);
    }
    const double max_norm = T.max_grad_norm > 0 ? T.max_grad_norm : std::numeric_limits<double>::infinity();
    const double grad_norm = torch::nn::utils::clip_grad_norm_(params, max_norm);
    p_.optimizer->adamw->step();
    ++st_.step;
    st_.tokens += batch->global_tokens;
    st_.trained += batch->global_trained;
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    st_.elapsed_s += dt;

    Scalars s{{"loss", batch->global_trained > 0 ? loss_sum / batch->global_trained : 0.0},
              {"lr", lr},
              {"grad_norm", grad_norm},
              {"tokens_per_s", batch->global_tokens / dt},
              {"trained_tokens_per_s", batch->global_trained / dt},
              {"packing_efficiency", static_cast<double>(batch->global_tokens) / (batch->global_rows * seq_len)},
              {"trained_fraction", static_cast<double>(batch->global_trained) / std::max<int64_t>(1, batch->global_tokens)},
              {"peak_memory_gb", peak_memory_bytes(p_.cuda) / 1e9},
              {"step_time_s", dt}};
    if (peak > 0) {
      const double flops = world.allreduce_sum(
          step_flops(p_.model->config(), 0, 0, doc_lens) +
          step_flops(p_.model->config(), batch->global_tokens, batch->global_trained, {}) / world.size());
      s.emplace_back("mfu", flops / dt / (peak * world.size()));
    }
    s.emplace_back("masked_tokens", static_cast<double>(batch->global_tokens - batch->global_trained));
    if (st_.step % R.logging.every == 0 || st_.step == st_.total_steps) {
      // Cumulative per-source counters of the data stream (what was drawn, cut, dropped, skipped).
      const auto& stats = batch->state["packer"]["stream"]["stats"];
      for (size_t i = 0; i < stats.size(); ++i) {
        const std::string prefix = "data/" + p_.data->train_sources()[i].opts.name + "/";
        for (const char* k : {"records", "tokens", "trained", "truncated", "dropped", "bad"})
          s.emplace_back(prefix + k, stats[i][k].get<double>());
      }
    }
    if (metrics) metrics->log_step(st_.step, s);

    const bool last = st_.step == st_.total_steps;
    if (!last && T.eval.every > 0 && st_.step % T.eval.every == 0) run_eval();
    if (!last && R.checkpoint.every > 0 && st_.step % R.checkpoint.every == 0) save_checkpoint(loader.state());
  }
  if (metrics) metrics->finish();
  run_eval();
  const std::string final_ckpt = save_checkpoint(loader.state());
  if (R.checkpoint.save_final_hf && world.is_main()) {
    const std::string out = R.run_dir() + "/model";
    // The export is a copy of the final checkpoint's HF model; a LoRA run can also merge.
    fs::remove_all(out);
    p_.model->save_pretrained(out, R.model.lora && R.model.lora->merge_on_export);
    p_.tokenizer->save_pretrained(out);
    log::info("final model (HF format) written to {}", out);
  }
  const auto stats = loader.state()["packer"]["stream"]["stats"];
  for (size_t i = 0; i < stats.size(); ++i)
    log::info("data source {}: {}", p_.data->train_sources()[i].opts.name, stats[i].dump());
  log::info("trained {} steps, {} tokens ({} trained) in {:.1f}s; last checkpoint {}", st_.step, st_.tokens,
            st_.trained, st_.elapsed_s, final_ckpt);
  return 0;
}

}  // namespace pt::train
