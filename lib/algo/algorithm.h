#pragma once
// What an algorithm contributes to THE training loop, as hooks (the shape of TRL's
// _prepare_inputs / compute_loss, without their monoliths):
//   setup     — build what it owns (frozen reference or teacher models, caches) from its context;
//   prepare   — turn this rank's rows of one data step into micro-batches (rollouts will go here)
//               and say how many optimizer updates to take over them;
//   loss      — one micro-batch's loss, from the pure loss functions beside the chunked CE;
//   save/load — its own state in checkpoints.
// The trainer owns accumulation, clipping, stepping, metrics, evaluation, checkpoints and signals.
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <ATen/ATen.h>

#include "data/loader.h"
#include "model/causal_lm.h"
#include "model/packed.h"

namespace pt::recipe {
struct LoadedRecipe;
struct Recipe;
}  // namespace pt::recipe
namespace pt::tok {
class HfTokenizer;
}
namespace pt::parallel {
class World;
}

namespace pt::algo {

struct MicroBatch {
  model::PackedInput input;  // rows flattened to N tokens
  at::Tensor labels;         // [N] int64, data::kIgnoreIndex where no loss (already shifted)
  at::Tensor token_doc;      // [N] int64: the document (index into this micro-batch's documents) of each position
  at::Tensor label_index;    // [num_trained] int64: positions that carry a label (built on the host: no device sync)
  at::Tensor label_weights;  // [num_trained] fp32 loss weight of each labelled position; undefined = all 1
  int64_t num_tokens = 0;    // non-padding tokens
  int64_t num_trained = 0;   // labels != kIgnoreIndex
  int64_t num_docs = 0;      // documents incl. padding ones
  std::vector<int64_t> doc_lens;  // real documents only (for attention FLOPs)
  // Packing units (a preference pair is one): their documents in order, and where they came from.
  std::vector<std::vector<int64_t>> units;
  std::vector<std::pair<uint32_t, int64_t>> unit_keys;  // (source, record)
  std::vector<nlohmann::json> unit_meta;                // the record's metadata (labels, answers), or null
};

// A named metric contribution of one micro-batch: `sum` (detached, left on the device so the step
// reads all of them back once) is summed over micro-batches and ranks, then divided by `denominator`
// (a global count the algorithm knows when it prepares the step).
struct MetricSum {
  std::string name;
  at::Tensor sum;
  double denominator = 1;
};

struct LossOut {
  at::Tensor loss;  // scalar to backward: this micro-batch's share of the step's loss
  std::vector<MetricSum> metrics;
};

// What an algorithm attaches to one prepared step for its losses (GRPO's per-sequence advantages
// and old log-probs, DPO's global pair counts): a type of its own, read back with Prepared::data<T>().
struct StepData {
  virtual ~StepData() = default;
};

// One prepared step: this rank's micro-batches and how to update on them.
struct Prepared {
  std::vector<MicroBatch> micro;
  // One optimizer update per entry, over micro[start, next start) (several per prepared batch, as
  // GRPO takes over one rollout batch; ranks may hold different numbers of micro-batches per
  // update, a rank with none contributes zero gradients). Empty: the batch is consumed without
  // updating the model (PPO's critic warm-up); it still counts as one step.
  std::vector<size_t> update_starts{0};
  double normalizer = 0;  // global divisor of summed per-micro-batch losses (e.g. trained tokens)
  int64_t global_tokens = 0, global_trained = 0, global_rows = 0;
  bool training = true;   // false: an evaluation batch
  std::shared_ptr<StepData> step_data;  // the algorithm's own, for loss()
  // Metrics of the preparation itself (rollout and reward stages), logged with the first update.
  std::vector<MetricSum> metrics;

  template <class T>
  T& data() const {
    auto* d = dynamic_cast<T*>(step_data.get());
    if (!d) throw std::logic_error("algorithm: loss() on a step that its prepare() did not build");
    return *d;
  }
};

struct Context {
  model::CausalLM* policy = nullptr;
  const tok::HfTokenizer* tokenizer = nullptr;
  const data::DataSet* data = nullptr;
  const parallel::World* world = nullptr;
  const recipe::LoadedRecipe* recipe = nullptr;
  at::Device device = at::kCPU;
  int rows_per_micro = 1;
  int64_t ce_chunk = 1024;
  bool resuming = false;  // a checkpoint will be restored after setup()
  bool autocast_bf16 = false;  // the trainer's forward passes run under bf16 autocast (trainer.precision)
};

class Algorithm {
 public:
  virtual ~Algorithm() = default;
  virtual void setup(const Context& ctx) { ctx_ = ctx; }
  // Default: consecutive rows into micro-batches of ctx.rows_per_micro rows, normalized by the
  // step's global trained-token count. `training` false: an evaluation batch on this rank alone
  // (no collective may run: the other ranks are not evaluating).
  virtual Prepared prepare(data::StepBatch& batch, bool training);
  // prep.micro[index]'s loss.
  virtual LossOut loss(const MicroBatch& mb, size_t index, const Prepared& prep) = 0;
  // Its "loss" metric is a mean token NLL (evaluation then also reports perplexity).
  virtual bool loss_is_token_nll() const { return false; }
  // Own state in checkpoints, under `dir` (a subdirectory of the checkpoint reserved for it).
  virtual void save_state(const std::string& dir) const { (void)dir; }
  virtual void load_state(const std::string& dir) { (void)dir; }
  // Models of its own exported with the run's final model, each to run_dir/<name> (PPO's critic).
  virtual std::vector<std::pair<std::string, model::CausalLM*>> exports() { return {}; }
  // Batches of the stream it wants to see before they are trained on (asynchronous RL generates
  // them ahead): before each training prepare() the trainer calls look_ahead() with up to this many
  // next batches (fewer where the run or the data ends). updates_per_batch: optimizer steps a batch
  // takes, which tells the trainer where the run's batches end.
  virtual int lookahead() const { return 0; }
  virtual int updates_per_batch() const { return 1; }
  virtual void look_ahead(std::vector<const data::StepBatch*> next) { (void)next; }

 protected:
  Context ctx_;
};

using AlgorithmFactory = std::function<std::unique_ptr<Algorithm>(const recipe::Recipe&)>;

// rows[begin, end) as one packed micro-batch on `device`: cu_seqlens from the rows' document lengths
// (padding is its own document), so attention stays inside documents across the whole micro-batch.
MicroBatch make_micro_batch(const std::vector<data::Row>& rows, size_t begin, size_t end, at::Device device);

// One row holding prompt + completion as a single document, the completion's tokens trained (RL
// samples, on-policy answers, KTO's mismatched pairs), as long as the two together.
// trained: per completion token (empty = all trained).
data::Row completion_row(const std::vector<int32_t>& prompt, const std::vector<int32_t>& completion, uint64_t index,
                         const std::vector<uint8_t>& trained = {});

// RL-style sequences (prompt + completion, the completion's tokens trained: all, or where `trained` says).
struct CompletionSeq {
  const std::vector<int32_t>* prompt = nullptr;
  const std::vector<int32_t>* completion = nullptr;
  const std::vector<uint8_t>* trained = nullptr;  // null or empty: all
};
// Tokens each sequence adds to its micro-batch: prompt + completion; with `share`, 1 + completion
// when it has the previous sequence's prompt (a family pays its prompt once; a family split over two
// micro-batches pays it again in the second, so a budget can be passed by up to one prompt).
std::vector<int64_t> completion_costs(const std::vector<CompletionSeq>& seqs, bool share);
// The sequences as one packed micro-batch, one document each. With `share`, each run of 2 or more
// consecutive sequences with the same prompt (of 2 or more tokens) reads that prompt once: one
// document holds the prompt but its last token, and each sequence's document — the last prompt
// token, then the completion, at the positions that follow — sees it in full as its prefix
// (PackedInput::prefix_doc). Labels, their order and the log-probs are the unshared layout's
// (within float noise: the GEMM shapes differ); the prompt's G x P tokens become P + G - 1.
MicroBatch completion_micro_batch(const std::vector<CompletionSeq>& seqs, bool share, at::Device device);

// Consecutive items grouped greedily under a token budget: a group closes when the next item would
// take it past `budget` tokens (an item longer than the budget is a group of its own). How RL
// samples, KTO's mismatched pairs and on-policy answers are packed into micro-batches.
std::vector<std::vector<size_t>> group_by_budget(const std::vector<int64_t>& lengths, int64_t budget);
// `items` in `parts` consecutive, near-equal slices (item k of n goes to slice k * parts / n).
std::vector<std::vector<size_t>> split_even(const std::vector<size_t>& items, int parts);
// Tokens of one micro-batch: trainer rows per micro-batch x data.seq_len.
int64_t micro_budget(const Context& ctx);

// Chosen / rejected document indices of every pair (preference unit) of a micro-batch.
std::pair<at::Tensor, at::Tensor> pair_docs(const MicroBatch& mb);
// Preference units (pairs) in a step's rows on this rank, and the trained tokens of their first
// (chosen) documents.
struct PairCounts {
  double pairs = 0, chosen_tokens = 0;
};
PairCounts count_pairs(const data::StepBatch& batch);

// Positions that carry a label, as an index tensor (ignored positions never reach the LM head).
at::Tensor labelled_positions(const MicroBatch& mb);

}  // namespace pt::algo
