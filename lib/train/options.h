#pragma once
// Recipe sections `trainer`, `checkpoint`, `logging`.
#include <string>

#include "recipe/fields.h"

namespace pt::train {

enum class Precision { Auto, Fp32, Bf16 };

struct EvalOptions {
  int every = 0;            // steps; 0 = not during training
  bool at_start = true;     // the baseline before the first step
  bool at_end = true;
  int max_batches = 0;      // 0 = the whole eval set
  bool generate = false;    // exact-match accuracy by greedy generation
  int max_new_tokens = 64;
  std::string tasks;        // a `posttrain eval` task file, run on the live model at every evaluation
  int max_batch = 64;       // sequences decoded together by eval.generate and the tasks
  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("every", every,
            Spec("evaluate every N optimizer steps; 0 = not during training (at_start / at_end still apply)").min(0));
    v.field("at_start", at_start, Spec("evaluate before the first step (the baseline the run improves on)"));
    v.field("at_end", at_end, Spec("evaluate after the last step; all three off = no evaluation"));
    v.field("max_batches", max_batches, Spec("limit eval batches; 0 = all").min(0));
    v.field("generate", generate,
            Spec("also greedy-generate answers to the held-out prompts and report eval/accuracy: the exact_match "
                 "scorer of posttrain eval against each reference answer (final answers compared: after ####, in "
                 "\\boxed{}, or the last line, after any </think>)"));
    v.field("max_new_tokens", max_new_tokens, Spec("generation length limit for eval").min(1));
    v.field("tasks", tasks,
            Spec("a posttrain eval task file (tasks: [{name, path, scorers, ...}]): every evaluation also runs its "
                 "tasks on the live model with the same code as `posttrain eval`, logged as eval/TASK/METRIC"));
    v.field("max_batch", max_batch,
            Spec("sequences the generation engine decodes together for eval.generate and the tasks (posttrain "
                 "eval --max-batch): memory and speed only, the answers are the same at any batch")
                .min(1)
                .max(4096));
  }
};

struct TrainerOptions {
  int max_steps = 0;
  int epochs = 1;
  int global_batch_tokens = 16384;
  int micro_batch_tokens = 0;  // 0 = data.seq_len
  double max_grad_norm = 1.0;
  Precision precision = Precision::Auto;
  int ce_chunk_tokens = 1024;
  EvalOptions eval;

  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("max_steps", max_steps, Spec("optimizer steps; 0 = run `epochs` over the data").min(0));
    v.field("epochs", epochs, Spec("passes over the mixture when max_steps is 0").min(1));
    v.field("global_batch_tokens", global_batch_tokens,
            Spec("tokens per optimizer step across all ranks (rows x seq_len)").min(1));
    v.field("micro_batch_tokens", micro_batch_tokens,
            Spec("tokens per forward/backward on one rank; 0 = data.seq_len. Accumulation is derived").min(0));
    v.field("max_grad_norm", max_grad_norm, Spec("clip the global gradient norm; 0 = off").min(0));
    v.field("precision", precision, Spec("auto = bf16 autocast with fp32 master weights on GPU, fp32 on CPU; bf16 = bf16 autocast on either"));
    v.field("ce_chunk_tokens", ce_chunk_tokens,
            Spec("labelled positions per LM-head chunk in the chunked cross-entropy").min(1));
    v.field("eval", eval, Spec("evaluation on the held-out split"));
  }
};

struct CheckpointOptions {
  int every = 0;
  int keep_last = 2;
  bool save_final = true;
  bool save_final_hf = true;
  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("every", every, Spec("save every N steps; 0 = no periodic checkpoints").min(0));
    v.field("save_final", save_final,
            Spec("save a complete (resumable) checkpoint after the last step; a stop by signal always saves one"));
    v.field("keep_last", keep_last, Spec("complete checkpoints kept; older ones are deleted").min(1));
    v.field("save_final_hf", save_final_hf, Spec("export the final model in HF format (PEFT adapter for LoRA)"));
  }
};

struct LoggingOptions {
  std::string level = "info";
  int every = 1;
  bool metrics_jsonl = true;
  bool tensorboard = true;
  bool progress_bar = true;
  double peak_tflops = 0;
  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("level", level, Spec("log level").one_of({"trace", "debug", "info", "warn", "error", "off"}));
    v.field("every", every, Spec("log metrics every N steps").min(1));
    v.field("metrics_jsonl", metrics_jsonl, Spec("write metrics.jsonl in the run directory"));
    v.field("tensorboard", tensorboard, Spec("write TensorBoard event files in the run directory"));
    v.field("progress_bar", progress_bar, Spec("console progress bar (only on a terminal)"));
    v.field("peak_tflops", peak_tflops,
            Spec("device peak (dense bf16 TFLOP/s) for MFU; 0 = known GPUs by name, none on CPU").min(0));
  }
};

}  // namespace pt::train

PT_RECIPE_ENUM(pt::train::Precision, {pt::train::Precision::Auto, "auto"}, {pt::train::Precision::Fp32, "fp32"},
               {pt::train::Precision::Bf16, "bf16"})
