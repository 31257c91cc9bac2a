// LoRA adapters: PEFT's initialization and names, on/off switching (a DPO reference without a
// second copy), merging into the base weights and back.
#include <cmath>

#include "core/error.h"
#include "model/causal_lm_impl.h"

namespace pt::model {

std::string strip_weight(const std::string& name) {
  const std::string suf = ".weight";
  return name.size() > suf.size() && name.compare(name.size() - suf.size(), suf.size(), suf) == 0
             ? name.substr(0, name.size() - suf.size())
             : name;
}

void attach_lora(CausalLM::Impl& im, const LoraOptions& lo) {
  auto* impl = &im;
  const HfConfig& c = impl->cfg;
  const at::Device device = impl->device;
  const int64_t H = c.hidden_size;
  auto targeted = [&](const char* m) {
    for (const auto& t : lo.target_modules)
      if (t == m) return true;
    return false;
  };
  if (targeted("lm_head") && c.tie_word_embeddings)
    fail("model.lora.target_modules: 'lm_head' with tied embeddings ({}) would also change the input embedding; "
         "target embed_tokens instead",
         impl->opts.path);
  for (auto& [n, t] : impl->base_params) t.requires_grad_(false);
  // `path`: the module's full HF path; its last component is the target_modules name.
  auto attach = [&](Linear& l, const std::string& path) {
    const std::string module = path.substr(path.rfind('.') + 1);
    bool wanted = false;
    for (const auto& t : lo.target_modules) wanted = wanted || t == module;
    if (!wanted) return;
    if (!l.w.defined())
      fail("model.lora.target_modules: '{}' in {} is a mixture-of-experts layer: adapters on experts are not part of "
           "this build yet (target the attention projections)", module, path.substr(0, path.rfind('.')));
    auto fopts = at::TensorOptions().dtype(impl->dtype).device(device);
    l.lora = std::make_unique<Lora>();
    std::string base = "base_model.model." + path;
    // Tensor parallelism: a column-parallel weight's B is split by rows, a row-parallel weight's A
    // by columns (the whole A is drawn first: the same start as a whole model).
    const int split = impl->tp ? tp_split_dim(*impl->arch, path + ".weight") : -1;
    const int64_t in = l.w.size(1) * (split == 1 ? impl->tp_size() : 1), out = l.w.size(0);
    // PEFT's default init: A ~ kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)), B = 0, so the
    // adapted model starts exactly at the base model.
    double bound = 1.0 / std::sqrt(static_cast<double>(in));
    at::Tensor a = at::empty({lo.rank, in}, fopts).uniform_(-bound, bound);
    if (split == 1) a = tp_slice(a, 1, *impl->tp);
    l.lora->a = a.requires_grad_(true);
    l.lora->b = at::zeros({out, lo.rank}, fopts).requires_grad_(true);
    l.lora->scale = lo.alpha / lo.rank;
    l.lora->split = split;
    impl->lora_params.emplace_back(base + ".lora_A.weight", l.lora->a);
    impl->lora_params.emplace_back(base + ".lora_B.weight", l.lora->b);
    if (split == 0) impl->lora_split[base + ".lora_B.weight"] = 0;
    if (split == 1) impl->lora_split[base + ".lora_A.weight"] = 1;
  };
  const TensorNames& N = impl->arch->names;
  for (size_t i = 0; i < impl->layers.size(); ++i) {
    auto& L = impl->layers[i];
    const std::string p = fmt::format(fmt::runtime(N.layer), i);
    for (auto [lin, name] : {std::pair<Linear*, const std::string*>{&L.q, &N.q}, {&L.k, &N.k}, {&L.v, &N.v}, {&L.o, &N.o},
                             {&L.gate, &N.gate}, {&L.up, &N.up}, {&L.down, &N.down}})
      attach(*lin, p + *name);
  }
  auto fopts = at::TensorOptions().dtype(impl->dtype).device(device);
  if (targeted("embed_tokens")) {
    // PEFT's embedding init is the mirror of the linear one: A = 0, B ~ N(0, 1).
    impl->embed_lora = std::make_unique<Lora>();
    // Tensor parallelism: A's columns are vocabulary ids, split like the embedding's rows.
    impl->embed_lora->a = at::zeros({lo.rank, impl->padded_vocab / impl->tp_size()}, fopts).requires_grad_(true);
    impl->embed_lora->b = at::randn({H, lo.rank}, fopts).requires_grad_(true);
    impl->embed_lora->scale = lo.alpha / lo.rank;
    if (impl->tp) {
      impl->embed_lora->split = 1;
      impl->lora_split["base_model.model." + strip_weight(N.embed) + ".lora_embedding_A"] = 1;
    }
    impl->lora_params.emplace_back("base_model.model." + strip_weight(N.embed) + ".lora_embedding_A", impl->embed_lora->a);
    impl->lora_params.emplace_back("base_model.model." + strip_weight(N.embed) + ".lora_embedding_B", impl->embed_lora->b);
  }
  if (targeted("lm_head")) {
    double bound = 1.0 / std::sqrt(static_cast<double>(H));
    impl->head_lora = std::make_unique<Lora>();
    impl->head_lora->a = at::empty({lo.rank, H}, fopts).uniform_(-bound, bound).requires_grad_(true);
    impl->head_lora->b = at::zeros({impl->padded_vocab / impl->tp_size(), lo.rank}, fopts).requires_grad_(true);
    impl->head_lora->scale = lo.alpha / lo.rank;
    if (impl->tp) {
      impl->head_lora->split = 0;
      impl->lora_split["base_model.model." + strip_weight(N.lm_head) + ".lora_B.weight"] = 0;
    }
    impl->lora_params.emplace_back("base_model.model." + strip_weight(N.lm_head) + ".lora_A.weight", impl->head_lora->a);
    impl->lora_params.emplace_back("base_model.model." + strip_weight(N.lm_head) + ".lora_B.weight", impl->head_lora->b);
  }
}

bool CausalLM::has_adapters() const { return !impl_->lora_params.empty(); }

void CausalLM::set_adapters_enabled(bool on) {
  if (!on) {
    bool merged = impl_->head_lora && impl_->head_lora->merged;
    for (const auto& L : impl_->layers)
      for (const Linear* l : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down}) merged = merged || (l->lora && l->lora->merged);
    PT_CHECK(!merged, "LoRA adapters cannot be switched off while merged into the base weights");
  }
  impl_->adapters_on = on;
}

namespace {

// B A scale, on `like`'s device: while a tensor-parallel model is whole (set_tp_whole) its split
// tensors live in host memory and the replicated factors on the device.
at::Tensor lora_delta(const Lora& l, const at::Tensor& like) {
  return at::matmul(l.b.to(like.device()), l.a.to(like.device())) * l.scale;
}

}  // namespace

void CausalLM::merge_lora() {
  at::NoGradGuard ng;
  for (auto& L : impl_->layers)
    for (Linear* l : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down})
      if (l->lora && !l->lora->merged) {
        l->w.add_(lora_delta(*l->lora, l->w));
        l->lora->merged = true;
      }
  if (auto& h = impl_->head_lora; h && !h->merged) {
    impl_->lm_head.add_(lora_delta(*h, impl_->lm_head));
    h->merged = true;
  }
  if (auto& e = impl_->embed_lora; e && !e->merged) {
    impl_->embed.add_(lora_delta(*e, impl_->embed).t());
    e->merged = true;
  }
  auto& im = *impl_;
  if (im.new_embed_rows.defined() && !im.rows_merged) {
    const int64_t n = im.new_embed_rows.size(0);
    im.embed.narrow(0, im.new_rows_from, n).copy_(im.new_embed_rows);
    if (im.new_head_rows.defined()) im.lm_head.narrow(0, im.new_rows_from, n).copy_(im.new_head_rows);
    im.rows_merged = true;
  }
}

void CausalLM::unmerge_lora() {
  at::NoGradGuard ng;
  for (auto& L : impl_->layers)
    for (Linear* l : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down})
      if (l->lora && l->lora->merged) {
        l->w.sub_(lora_delta(*l->lora, l->w));
        l->lora->merged = false;
      }
  if (auto& h = impl_->head_lora; h && h->merged) {
    impl_->lm_head.sub_(lora_delta(*h, impl_->lm_head));
    h->merged = false;
  }
  if (auto& e = impl_->embed_lora; e && e->merged) {
    impl_->embed.sub_(lora_delta(*e, impl_->embed).t());
    e->merged = false;
  }
  auto& im = *impl_;
  if (im.rows_merged) {
    const int64_t n = im.base_embed_rows.size(0);
    im.embed.narrow(0, im.new_rows_from, n).copy_(im.base_embed_rows);
    if (im.base_head_rows.defined()) im.lm_head.narrow(0, im.new_rows_from, n).copy_(im.base_head_rows);
    im.rows_merged = false;
  }
}

}  // namespace pt::model
