// Gradient-side behaviour of the model: activation checkpointing and LoRA merge/unmerge.
#include <catch2/catch.hpp>

#include "model_fixtures.h"

using namespace pt;

namespace {
std::map<std::string, at::Tensor> grads_of(model::CausalLM& m, const model::PackedInput& in) {
  for (auto& [n, p] : m.named_parameters(true)) p.mutable_grad() = at::Tensor();
  auto logits = m.logits(in);
  // A loss that touches every position and vocabulary entry.
  auto loss = at::log_softmax(logits, -1).select(1, 5).sum() + logits.pow(2).mean();
  loss.backward();
  std::map<std::string, at::Tensor> g;
  for (auto& [n, p] : m.named_parameters(true)) g[n] = p.grad().clone();
  return g;
}
}  // namespace

TEST_CASE("activation checkpointing gives the same gradients as storing activations", "[model][ckpt]") {
  auto ref = test::load_reference("qwen3");
  auto in = model::PackedInput::from_documents(ref.docs);
  for (bool lora : {false, true}) {
    model::ModelOptions o;
    o.path = test::model_dir("qwen3");
    if (lora) o.lora = model::LoraOptions{};
    auto plain = model::CausalLM::from_pretrained(o, at::kCPU);
    o.activation_checkpointing = true;
    auto ckpt = model::CausalLM::from_pretrained(o, at::kCPU);
    if (lora) {  // same adapters in both, with non-zero B so every LoRA grad is non-trivial
      at::NoGradGuard ng;
      auto a = plain->named_parameters(true), b = ckpt->named_parameters(true);
      for (size_t i = 0; i < a.size(); ++i) {
        a[i].second.copy_(at::randn_like(a[i].second) * 0.1);
        b[i].second.copy_(a[i].second);
      }
    }
    auto g1 = grads_of(*plain, in);
    auto g2 = grads_of(*ckpt, in);
    REQUIRE(g1.size() == g2.size());
    double worst = 0;
    for (const auto& [n, g] : g1) {
      REQUIRE(g2.count(n));
      REQUIRE(g.defined());
      worst = std::max(worst, (g - g2[n]).abs().max().item<double>());
    }
    INFO("lora=" << lora);
    CHECK(worst <= 1e-6);
  }
}

TEST_CASE("LoRA merge and unmerge preserve the function", "[model][lora]") {
  model::ModelOptions o;
  o.path = test::model_dir("llama");
  o.lora = model::LoraOptions{};
  o.lora->rank = 8;
  o.lora->target_modules = {"q_proj", "v_proj", "down_proj", "lm_head", "embed_tokens"};
  auto m = model::CausalLM::from_pretrained(o, at::kCPU);
  m->train(false);
  {
    at::NoGradGuard ng;
    for (auto& [n, p] : m->named_parameters(true)) p.copy_(at::randn_like(p) * 0.1);
  }
  auto in = model::PackedInput::from_documents(test::load_reference("llama").docs);
  at::NoGradGuard ng;
  auto before = m->logits(in);
  m->merge_lora();
  auto merged = m->logits(in);
  m->unmerge_lora();
  auto after = m->logits(in);
  // fp32: merging reorders the sums (and the kernels picked may vary run to run), so the bound scales
  // with the logits (|logits| ~6 here; one CI run differed by 1.01e-5 absolute; a wrong merge is ~0.1).
  const double tol = 5e-6 * std::max(1.0, before.abs().max().item<double>());
  INFO("max |logit| " << before.abs().max().item<double>());
  CHECK((before - merged).abs().max().item<double>() <= tol);
  CHECK((before - after).abs().max().item<double>() <= tol);
  REQUIRE_THROWS_WITH(
      [&] {
        model::ModelOptions bad = o;
        bad.path = test::model_dir("llama_tied");
        bad.lora->target_modules = {"lm_head"};
        model::CausalLM::from_pretrained(bad, at::kCPU);
      }(),
      Catch::Contains("'lm_head' with tied embeddings"));
}
