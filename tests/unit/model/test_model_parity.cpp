// Logit parity with transformers (reference logits from scripts/make_tiny_models.py, fp32, eager).
#include <catch2/catch.hpp>

#include <cstdio>

#include "model/arch.h"
#include "model_fixtures.h"

using namespace pt;

namespace {
struct Diff {
  double max_abs = 0, mean_abs = 0;
};
Diff compare(const at::Tensor& a, const at::Tensor& b) {
  auto d = (a.to(at::kFloat) - b.to(at::kFloat)).abs();
  return {d.max().item<double>(), d.mean().item<double>()};
}
}  // namespace

TEST_CASE("fp32 logits match transformers per architecture and attention backend", "[model][parity]") {
  for (const auto& name : test::tiny_models()) {
    auto ref = test::load_reference(name);
    for (auto backend : {model::AttentionBackend::Eager, model::AttentionBackend::Sdpa}) {
      auto m = test::load_tiny(name, backend);
      at::NoGradGuard ng;
      double worst = 0;
      for (size_t i = 0; i < ref.docs.size(); ++i) {
        auto logits = m->logits(model::PackedInput::from_documents({ref.docs[i]}));
        REQUIRE(logits.sizes() == ref.logits[i].sizes());
        worst = std::max(worst, compare(logits, ref.logits[i]).max_abs);
      }
      std::printf("parity fp32 %-10s %-5s max_abs=%.3g\n", name.c_str(),
                  backend == model::AttentionBackend::Eager ? "eager" : "sdpa", worst);
      CHECK(worst <= 1e-4);
    }
  }
}

TEST_CASE("a packed row gives the same logits as its documents one by one", "[model][packing]") {
  for (const auto& name : test::tiny_models()) {
    auto ref = test::load_reference(name);
    for (auto backend : {model::AttentionBackend::Eager, model::AttentionBackend::Sdpa}) {
      auto m = test::load_tiny(name, backend);
      at::NoGradGuard ng;
      auto packed = m->logits(model::PackedInput::from_documents(ref.docs));
      auto expected = at::cat(ref.logits, 0);
      auto d = compare(packed, expected);
      CHECK(d.max_abs <= 1e-4);
      int64_t off = 0;
      for (size_t i = 0; i < ref.docs.size(); ++i) {
        auto one = m->logits(model::PackedInput::from_documents({ref.docs[i]}));
        auto slice = packed.narrow(0, off, one.size(0));
        CHECK(compare(slice, one).max_abs <= 1e-5);
        off += one.size(0);
      }
    }
  }
}

TEST_CASE("bf16 logits stay within the documented tolerance of the fp32 reference", "[model][parity]") {
  // bf16 keeps 8 mantissa bits (~0.4% per rounding). On these logits (mean |x| ~0.6, max ~3) two
  // layers of bf16 GEMMs land at ~0.05 max / ~0.008 mean abs; we allow 0.1 max / 0.02 mean.
  for (const auto& name : test::tiny_models()) {
    auto ref = test::load_reference(name);
    auto m = test::load_tiny(name, model::AttentionBackend::Sdpa, model::Dtype::BFloat16);
    at::NoGradGuard ng;
    auto packed = m->logits(model::PackedInput::from_documents(ref.docs));
    auto d = compare(packed, at::cat(ref.logits, 0));
    std::printf("parity bf16 %-10s max_abs=%.3g mean_abs=%.3g\n", name.c_str(), d.max_abs, d.mean_abs);
    CHECK(d.max_abs <= 0.1);
    CHECK(d.mean_abs <= 0.02);
  }
}

TEST_CASE("vocabulary is padded to the multiple and padded rows never appear in logits", "[model][vocab]") {
  auto m = test::load_tiny("llama");
  REQUIRE(m->vocab_size() == 389);
  REQUIRE(m->padded_vocab_size() == 448);
  REQUIRE(m->lm_head_weight().size(0) == 448);
  REQUIRE(m->lm_head_weight().narrow(0, 389, 448 - 389).abs().max().item<double>() == 0.0);
  at::NoGradGuard ng;
  auto logits = m->logits(model::PackedInput::from_documents({{5, 6, 7}}));
  REQUIRE(logits.size(1) == 389);
}

TEST_CASE("unsupported architectures and broken configs are clear errors", "[model]") {
  REQUIRE_THROWS_WITH(model::HfConfig::from_json(nlohmann::json::parse(R"({"architectures":["GPT2LMHeadModel"]})"),
                                                 "x/config.json"),
                      Catch::Contains("missing required integer 'vocab_size'"));
  REQUIRE_THROWS_WITH(model::find_architecture("LlamaForCausalLm"),
                      Catch::Contains("did you mean 'LlamaForCausalLM'"));
}
