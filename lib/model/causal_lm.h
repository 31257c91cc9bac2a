#pragma once
// Our own Llama-family decoder over packed documents, loading and saving Hugging Face checkpoints.
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/ATen.h>

#include "model/hf_config.h"
#include "model/layer_hooks.h"
#include "model/options.h"
#include "model/packed.h"

namespace pt::model {

struct KvStep;
class TpGroup;

class CausalLM {
 public:
  // Reads config.json and the safetensors (sharded or not) from opts.path. Parameters are created
  // empty in the target dtype on `device` and filled tensor by tensor from the mmapped files (no
  // second host copy). Embedding/LM head are padded to opts.vocab_pad_multiple rows. With opts.lora
  // the base weights are frozen and only adapters train.
  static std::unique_ptr<CausalLM> from_pretrained(const ModelOptions& opts, at::Device device,
                                                   const LoadContext& ctx = {});
  ~CausalLM();

  // [N, hidden] after the final norm. With `kv`, the documents of `in` continue sequences whose
  // earlier tokens are in the KV cache (generation), and their keys/values are appended to it.
  at::Tensor hidden_states(const PackedInput& in, KvStep* kv = nullptr);
  // [padded_vocab, hidden]; rows >= vocab_size() are padding. Under tensor parallelism this rank's
  // rows [vocab_offset(), vocab_offset() + padded_vocab / tp size) only.
  at::Tensor lm_head_weight() const;
  at::Tensor logits(const PackedInput& in);         // [N, vocab_size()] (padding columns sliced off)
  // The tensor-parallel group the model is split over (null: the whole model is here).
  const std::shared_ptr<TpGroup>& tp_group() const;
  int64_t vocab_offset() const;  // first embedding / LM-head row of this rank
  // The dimension parameter `name` is split along over the group (0, 1), or -1 (replicated).
  int tp_split_dim(const std::string& name) const;
  // Every split parameter as the whole tensor, in host memory (all ranks of the group call it
  // together, one gather per tensor: saving, export), or back to this rank's slices. Only a rank
  // with `keep` (the writer) holds the whole tensors; the others just take part in the gathers. The
  // parameters stay the same tensors (their data is swapped), so optimizer state and gradient views
  // keep pointing at them. `trainable_only`: just the trained ones (a LoRA checkpoint saves the
  // adapters, not the frozen base). `skip`: parameters left as slices.
  void set_tp_whole(bool whole, bool keep = true, bool trainable_only = false,
                    const std::function<bool(const std::string&)>& skip = nullptr);
  // *ForSequenceClassification checkpoints: the score head at each document's last token,
  // [documents, num_labels] fp32 (transformers pools at the last non-padding token the same way).
  bool has_score_head() const;  // a sequence-classification head
  // *ForTokenClassification: the score head at every position of `hidden` ([N, hidden] from
  // hidden_states) -> [N, num_labels] fp32, after the head's dropout while training.
  bool has_token_head() const;
  // A projection of every token onto a separate id space (model.head.type projection):
  // [num_outputs, hidden], used like an LM head by the chunked losses.
  bool has_projection_head() const;
  at::Tensor projection_weight() const;
  at::Tensor token_score_logits(const at::Tensor& hidden);
  // PPO's value head on the policy (ModelOptions::value_head): [N, hidden] -> [N] fp32 values.
  bool has_value_head() const;
  at::Tensor value_head(const at::Tensor& hidden);
  at::Tensor score_weight() const;  // [num_labels, hidden]
  at::Tensor score_logits(const PackedInput& in);
  int64_t vocab_size() const;                       // original, unpadded
  int64_t padded_vocab_size() const;
  const HfConfig& config() const;
  at::Device device() const;
  at::ScalarType dtype() const;

  std::vector<std::pair<std::string, at::Tensor>> named_parameters(bool trainable_only = true) const;
  // Called around every decoder layer of every forward pass (nullptr: none).
  void set_layer_hooks(LayerHooks* hooks);
  bool is_decay_param(const std::string& name) const;  // false for norms and biases
  void train(bool on);                                 // LoRA dropout on/off
  bool is_training() const;
  bool has_adapters() const;
  // Off: the forward pass is the base model's (adapters bypassed, not removed).
  void set_adapters_enabled(bool on);

  // HF format: config.json, generation_config.json, model.safetensors (sharded above
  // max_shard_bytes) in the parameters' dtype with the original vocab size. With LoRA: a PEFT
  // adapter (adapter_config.json + adapter_model.safetensors), plus the merged model in dir/merged
  // if merge_lora. Tokenizer files are not the model's business: train::export_hf writes the run's.
  void save_pretrained(const std::string& dir, bool merge_lora = false, uint64_t max_shard_bytes = 5ull << 30) const;
  // The same without the base tensors `skip` names (saved elsewhere: fsdp ZeRO-3's per-rank shards).
  void save_pretrained_except(const std::string& dir, const std::function<bool(const std::string&)>& skip) const;
  // Trainable parameters only, by name (checkpoints).
  void save_state(const std::string& file) const;
  void load_state(const std::string& file);

  // Grows the vocabulary to `new_vocab` (tokens added to the tokenizer): new embedding / LM-head
  // rows start at the mean of the existing ones; saved checkpoints carry the new vocab_size.
  void resize_vocab(int64_t new_vocab);
  // Trains only the embedding / LM-head rows >= first_row (tokens added by this run): every other
  // parameter is frozen, the old rows get no gradient and no weight decay.
  void train_rows_from(int64_t first_row);
  // With LoRA: embedding (and untied LM-head) rows from `first_row` on (the new tokens) become
  // trainable values of their own, exported as PEFT trainable_token_indices.
  void train_new_rows_with_lora(int64_t first_row);
  int64_t new_token_rows_from() const;  // 0 = none

  void merge_lora();    // fold B·A·scale into the base weights (inference/export)
  void unmerge_lora();  // exact inverse up to rounding

  // 6 x (non-embedding params + LM head) FLOPs per trained token; the attention term, which depends
  // on document lengths, is added by the caller (metrics).
  double flops_per_token_dense() const;

  struct Impl;

 private:
  explicit CausalLM(std::unique_ptr<Impl> impl);
  void save_impl(const std::string& dir, bool merge, uint64_t max_shard_bytes,
                 const std::function<bool(const std::string&)>& skip) const;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pt::model
