// The model's output heads at load time: the LM head (tied, loaded, or absent from a classifier),
// a *ForSequenceClassification / *ForTokenClassification score head from the files or new for
// model.head, and the projection head that lives beside the HF files (no transformers layout).
#include <filesystem>

#include "core/error.h"
#include "model/causal_lm_impl.h"
#include "model/param_loader.h"
#include "model/safetensors.h"

namespace fs = std::filesystem;

namespace pt::model {

namespace {

std::string score_bias_name(const TensorNames& N) {
  return N.score.substr(0, N.score.size() - std::string("weight").size()) + "bias";
}

// A directory that carries its projection head is loaded with it (as a classifier checkpoint is);
// model.head.type projection without one starts a new head.
void load_projection(CausalLM::Impl& impl, ParamLoader& load) {
  const auto& opts = impl.opts;
  const HfConfig& c = impl.cfg;
  const int64_t H = c.hidden_size;
  const fs::path file = opts.init ? fs::path() : fs::path(opts.path) / kProjectionFile;
  if (!opts.init && fs::exists(file)) {
    if (opts.head.type != HeadType::Projection && opts.head.type != HeadType::None)
      fail("{} has a projection head ({}) but model.head.type is {}", opts.path, kProjectionFile,
           opts.head.type == HeadType::TokenClassification ? "token_classification" : "sequence_classification");
    SafetensorsFile f(file.string());
    if (!f.contains(kProjectionName)) fail("{}: missing tensor '{}'", file.string(), kProjectionName);
    auto src = f.view(kProjectionName);
    const int64_t outputs = opts.head.type == HeadType::Projection ? opts.head.num_labels : src.size(0);
    if (src.dim() != 2 || src.size(1) != H || src.size(0) != outputs)
      fail("{}: '{}' has shape [{}], expected [{}, {}] (model.head.num_labels, hidden_size)", file.string(),
           kProjectionName, fmt::join(src.sizes(), ", "), outputs, H);
    impl.projection = at::empty({outputs, H}, load.options());
    {
      at::NoGradGuard ng;
      impl.projection.copy_(src);
    }
    load.add(kProjectionName, impl.projection);
  } else if (opts.head.type == HeadType::Projection) {
    const double std = c.raw.value("initializer_range", 0.02);
    impl.projection = load.add(kProjectionName, at::empty({opts.head.num_labels, H}, load.options()).normal_(0, std));
  }
}

// PPO's value head on the policy (ModelOptions::value_head): the directory's value_head.safetensors
// when it carries one (a PPO run's export, a checkpoint), else a new head initialized as a new token
// classifier's (normal with initializer_range; bias 0).
void load_value_head(CausalLM::Impl& impl, ParamLoader& load) {
  const auto& opts = impl.opts;
  if (!opts.value_head) return;
  if (opts.lora) fail("a value head on the policy trains with it; LoRA freezes the base model (a separate critic works)");
  const int64_t H = impl.cfg.hidden_size;
  const fs::path file = opts.init ? fs::path() : fs::path(opts.path) / kValueFile;
  if (!file.empty() && fs::exists(file)) {
    SafetensorsFile f(file.string());
    auto take = [&](const char* name, std::vector<int64_t> shape) {
      if (!f.contains(name)) fail("{}: missing tensor '{}'", file.string(), name);
      auto src = f.view(name);
      if (src.sizes().vec() != shape)
        fail("{}: '{}' has shape [{}], expected [{}] (hidden_size {})", file.string(), name, fmt::join(src.sizes(), ", "),
             fmt::join(shape, ", "), H);
      at::Tensor t = at::empty(shape, load.options());
      at::NoGradGuard ng;
      t.copy_(src);
      return load.add(name, t);
    };
    impl.value_w = take(kValueWeight, {1, H});
    impl.value_b = take(kValueBias, {1});
    return;
  }
  const double std = impl.cfg.raw.value("initializer_range", 0.02);
  impl.value_w = load.add(kValueWeight, at::empty({1, H}, load.options()).normal_(0, std));
  impl.value_b = load.add(kValueBias, at::zeros({1}, load.options()));
}

// The config a new classification head is saved with: transformers' class, labels, pad id.
void describe_new_classifier(HfConfig& cfg, int num_labels, bool token) {
  (token ? cfg.token_classification : cfg.sequence_classification) = true;
  cfg.num_labels = num_labels;
  const std::string base = cfg.architecture.substr(0, cfg.architecture.size() - std::string("ForCausalLM").size());
  cfg.hf_class = base + (token ? "ForTokenClassification" : "ForSequenceClassification");
  auto& raw = cfg.raw;
  raw["architectures"] = nlohmann::json::array({cfg.hf_class});
  nlohmann::json id2label = nlohmann::json::object(), label2id = nlohmann::json::object();
  for (int i = 0; i < num_labels; ++i) {
    id2label[std::to_string(i)] = fmt::format("LABEL_{}", i);
    label2id[fmt::format("LABEL_{}", i)] = i;
  }
  raw["id2label"] = id2label;
  raw["label2id"] = label2id;
  if (num_labels == 1) raw["problem_type"] = "regression";
  if (token) raw["classifier_dropout"] = cfg.classifier_dropout;
  if (!raw.contains("pad_token_id") || raw["pad_token_id"].is_null()) raw["pad_token_id"] = cfg.eos_token_id.value_or(0);
}

// model.head sequence_classification / token_classification: the files' head if they are such a
// classifier (labels must agree), else a new one initialized as transformers does (normal with
// initializer_range; bias 0).
void check_or_add_classifier(CausalLM::Impl& impl, ParamLoader& load) {
  const auto& opts = impl.opts;
  const HfConfig& c = impl.cfg;
  const bool classifier = c.sequence_classification || c.token_classification;
  if (opts.head.type == HeadType::Projection && classifier)
    fail("model.head.type = projection but {} is a {}", opts.path, c.hf_class);
  if (opts.head.type == HeadType::None || opts.head.type == HeadType::Projection) return;
  const bool token = opts.head.type == HeadType::TokenClassification;
  const char* want = token ? "token_classification" : "sequence_classification";
  if ((token && c.sequence_classification) || (!token && c.token_classification))
    fail("model.head.type = {} but {} is a {}", want, opts.path, c.hf_class);
  if (classifier && c.num_labels != opts.head.num_labels)
    fail("model.head.num_labels = {} but {} is a classifier with {} labels", opts.head.num_labels, opts.path,
         c.num_labels);
  if (classifier) return;
  const double std = c.raw.value("initializer_range", 0.02);
  const TensorNames& N = impl.arch->names;
  impl.score = load.add(N.score, at::empty({opts.head.num_labels, c.hidden_size}, load.options()).normal_(0, std));
  if (token) impl.score_bias = load.add(score_bias_name(N), at::zeros({opts.head.num_labels}, load.options()));
  describe_new_classifier(impl.cfg, opts.head.num_labels, token);
}

}  // namespace

void load_heads(CausalLM::Impl& impl, ParamLoader& load) {
  const HfConfig& c = impl.cfg;
  const TensorNames& N = impl.arch->names;
  const bool classifier = c.sequence_classification || c.token_classification;
  if (c.tie_word_embeddings) impl.lm_head = impl.embed;
  else if (!classifier || load.in_files(N.lm_head)) impl.lm_head = load(N.lm_head, {impl.padded_vocab, c.hidden_size}, true);
  if (classifier) impl.score = load(N.score, {c.num_labels, c.hidden_size});
  if (c.token_classification && c.score_bias) impl.score_bias = load(score_bias_name(N), {c.num_labels});
  load_projection(impl, load);
  check_or_add_classifier(impl, load);
  load_value_head(impl, load);
}

}  // namespace pt::model
