// Tensor parallelism in one process (a group of threads): the vocabulary-parallel losses equal the
// whole-vocabulary ones, and every tiny architecture split over 2 ranks gives the whole model's
// logits, loss and gradients (each rank's gradient = its slice of the whole gradient).
#include <catch2/catch.hpp>

#include <map>

#include "../model/model_fixtures.h"
#include "algo/distill_losses.h"
#include "algo/logprobs.h"
#include "algo/losses.h"
#include "generate/engine.h"
#include "model/arch.h"
#include "thread_group.h"

using namespace pt;

namespace {

// The rows of `full` that rank r of n holds.
at::Tensor rows_of(const at::Tensor& full, int r, int n) { return full.narrow(0, full.size(0) / n * r, full.size(0) / n); }

}  // namespace

TEST_CASE("vocabulary-parallel cross-entropy and log-probs equal the whole-vocabulary ones", "[tp][loss]") {
  for (int n : {2, 3}) {
    at::manual_seed(3);
    const int64_t rows = 13, hidden = 8, vocab = 37, padded = 42;  // padding rows end up on the last rank
    auto h = at::randn({rows, hidden}, at::kDouble).to(at::kFloat);
    auto w = at::randn({padded, hidden}) * 0.5;
    auto labels = at::randint(0, vocab, {rows}, at::TensorOptions().dtype(at::kLong));
    labels[0] = vocab - 1;  // the last real id: on the rank that also holds padding
    auto weights = at::rand({rows});
    // Whole vocabulary.
    auto hr = h.clone().requires_grad_(true), wr = w.clone().requires_grad_(true);
    auto ce = algo::chunked_cross_entropy(hr, wr, labels, vocab, 5, weights);
    auto lp = algo::chunked_logprobs(hr, wr, labels, vocab, 5);
    (ce + (lp * at::linspace(-1, 1, rows)).sum()).backward();
    std::vector<double> loss_diff(n), lp_diff(n), gh_diff(n), gw_diff(n);
    test::run_ranks(n, [&](int r, std::shared_ptr<model::TpGroup> g) {
      auto hs = h.clone().requires_grad_(true), ws = rows_of(w, r, n).clone().requires_grad_(true);
      algo::VocabShard shard{g.get(), padded / n * r};
      auto ce_s = algo::chunked_cross_entropy(hs, ws, labels, vocab, 5, weights, shard);
      auto lp_s = algo::chunked_logprobs(hs, ws, labels, vocab, 5, shard);
      (ce_s + (lp_s * at::linspace(-1, 1, rows)).sum()).backward();
      loss_diff[r] = std::abs(ce_s.item<double>() - ce.item<double>());
      lp_diff[r] = (lp_s - lp).abs().max().item<double>();
      gh_diff[r] = (hs.grad() - hr.grad()).abs().max().item<double>();
      gw_diff[r] = (ws.grad() - rows_of(wr.grad(), r, n)).abs().max().item<double>();
    });
    for (int r = 0; r < n; ++r) {
      INFO("tp " << n << " rank " << r);
      CHECK(loss_diff[r] < 1e-5 * std::abs(ce.item<double>()));
      CHECK(lp_diff[r] < 1e-5);
      CHECK(gh_diff[r] < 1e-5);
      CHECK(gw_diff[r] < 1e-5);
    }
  }
}

TEST_CASE("vocabulary-parallel distillation equals the whole-vocabulary divergence", "[tp][loss][distill]") {
  // Forward KL, JSD and reverse KL, tempered, with and without top-k: the same divergence and
  // gradients as chunked_distillation, each rank getting its own LM-head rows' gradient.
  at::manual_seed(4);
  const int64_t rows = 11, hs_dim = 8, ht_dim = 6, vocab = 37, padded = 42;
  auto h = at::randn({rows, hs_dim}), ht = at::randn({rows, ht_dim});
  auto w = at::randn({padded, hs_dim}) * 0.7, wt = at::randn({padded, ht_dim}) * 0.9;
  int64_t checked = 0;
  for (int n : {2, 3})
    for (double beta : {0.0, 0.4, 1.0})
      for (double temperature : {1.0, 2.0})
        for (int64_t top_k : {int64_t{0}, int64_t{5}, int64_t{20}}) {
          const algo::DistillParams p{beta, temperature, top_k};
          auto hr = h.clone().requires_grad_(true), wr = w.clone().requires_grad_(true);
          auto whole = algo::chunked_distillation(hr, wr, ht, wt, vocab, 4, p);
          whole.backward();
          std::vector<double> loss_diff(n), gh_diff(n), gw_diff(n);
          test::run_ranks(n, [&](int r, std::shared_ptr<model::TpGroup> g) {
            auto hs = h.clone().requires_grad_(true), ws = rows_of(w, r, n).clone().requires_grad_(true);
            algo::VocabShard shard{g.get(), padded / n * r};
            auto split = algo::vocab_parallel_distillation(hs, ws, ht, rows_of(wt, r, n), vocab, 4, p, shard);
            split.backward();
            loss_diff[r] = std::abs(split.item<double>() - whole.item<double>());
            gh_diff[r] = (hs.grad() - hr.grad()).abs().max().item<double>();
            gw_diff[r] = (ws.grad() - rows_of(wr.grad(), r, n)).abs().max().item<double>();
          });
          for (int r = 0; r < n; ++r) {
            INFO("tp " << n << " rank " << r << " beta " << beta << " T " << temperature << " top_k " << top_k);
            CHECK(loss_diff[r] < 1e-5 * std::abs(whole.item<double>()));
            CHECK(gh_diff[r] < 1e-5);
            CHECK(gw_diff[r] < 1e-5);
            ++checked;
          }
        }
  CHECK(checked == 90);
}

TEST_CASE("tensor-parallel split dimensions follow the projection names", "[tp]") {
  const auto& a = model::find_architecture("Qwen2ForCausalLM");
  CHECK(model::tp_split_dim(a, "model.embed_tokens.weight") == 0);
  CHECK(model::tp_split_dim(a, "lm_head.weight") == 0);
  CHECK(model::tp_split_dim(a, "model.layers.0.self_attn.q_proj.weight") == 0);
  CHECK(model::tp_split_dim(a, "model.layers.0.self_attn.k_proj.bias") == 0);
  CHECK(model::tp_split_dim(a, "model.layers.0.self_attn.o_proj.weight") == 1);
  CHECK(model::tp_split_dim(a, "model.layers.0.self_attn.o_proj.bias") == -1);
  CHECK(model::tp_split_dim(a, "model.layers.0.mlp.down_proj.weight") == 1);
  CHECK(model::tp_split_dim(a, "model.layers.1.mlp.experts.3.up_proj.weight") == 0);
  CHECK(model::tp_split_dim(a, "model.layers.1.mlp.gate.weight") == -1);  // the MoE router stays whole
  CHECK(model::tp_split_dim(a, "model.layers.0.self_attn.q_norm.weight") == -1);
  CHECK(model::tp_split_dim(a, "model.norm.weight") == -1);
}

TEST_CASE("a range of a rank's slice is read from the stored whole tensor", "[tp][load]") {
  // What ZeRO-3 under tensor parallelism reads into a rank's share: every range of every slice equals
  // the same range of tp_slice of the whole (padded) tensor, rows past the stored ones as zeros.
  struct Fake : model::TpGroup {
    int r, n;
    Fake(int r, int n) : r(r), n(n) {}
    int rank() const override { return r; }
    int size() const override { return n; }
    void all_reduce_sum(const at::Tensor&) override {}
    at::Tensor all_gather(const at::Tensor& t) override { return t; }
  };
  at::manual_seed(5);
  const at::Tensor stored = at::randn({10, 6}, at::kDouble);  // a vocabulary of 10 padded to 12 rows
  const at::Tensor padded = at::cat({stored, at::zeros({2, 6}, at::kDouble)});
  const at::Tensor vec = at::randn({12}, at::kDouble);
  int64_t ranges = 0;
  for (int n : {1, 2, 3})
    for (int dim : {-1, 0, 1}) {
      if (dim == 1 && 6 % n != 0) continue;
      for (int r = 0; r < n; ++r) {
        const Fake g(r, n);
        for (const auto& [src, whole] : {std::pair{stored, padded}, std::pair{vec, vec}}) {
          if (dim == 1 && whole.dim() == 1) continue;
          const at::Tensor want = (dim < 0 ? whole : model::tp_slice(whole, dim, g)).reshape({-1});
          for (int64_t b = 0; b < want.numel(); b += 5)
            for (int64_t len : {int64_t{1}, int64_t{7}, want.numel() - b}) {
              len = std::min(len, want.numel() - b);
              at::Tensor dst = at::full({len}, 99.0, at::kFloat);  // another dtype, as fp32 from bf16 files
              model::tp_read_slice_range(src, whole.sizes(), dim, r, n, b, dst);
              REQUIRE(at::equal(dst, want.narrow(0, b, len).to(at::kFloat)));
              ++ranges;
            }
        }
      }
    }
  CHECK(ranges > 100);
}

TEST_CASE("every tiny architecture split over 2 ranks gives the whole model's logits, loss and gradients", "[tp][model]") {
  for (const auto& name : test::tiny_models()) {
    auto ref = test::load_reference(name);
    auto in = model::PackedInput::from_documents(ref.docs);
    // Next-token labels inside each packed document (the last position of the row predicts token 0).
    auto labels = at::roll(in.input_ids, -1);
    auto whole = test::load_tiny(name);
    auto loss_of = [&](model::CausalLM& m) {
      auto h = m.hidden_states(in);
      return algo::chunked_cross_entropy(h, m.lm_head_weight(), labels, m.vocab_size(), 7, {}, algo::vocab_shard_of(m));
    };
    auto loss = loss_of(*whole);
    loss.backward();
    at::Tensor logits;
    {
      at::NoGradGuard ng;
      logits = whole->logits(in);
    }
    std::map<std::string, at::Tensor> grads;
    for (auto& [n, p] : whole->named_parameters(true)) grads[n] = p.grad();
    const int n = 2;
    std::vector<double> logit_diff(n), loss_diff(n), grad_diff(n);  // grad_diff: relative to the gradient's max
    std::vector<std::string> worst(n);
    test::run_ranks(n, [&](int r, std::shared_ptr<model::TpGroup> g) {
      model::ModelOptions o;
      o.path = test::model_dir(name);
      o.attention = model::AttentionBackend::Sdpa;
      auto m = model::CausalLM::from_pretrained(o, at::kCPU, {nullptr, g});
      auto l = loss_of(*m);
      l.backward();
      loss_diff[r] = std::abs(l.item<double>() - loss.item<double>()) / loss.item<double>();
      {
        at::NoGradGuard ng;
        logit_diff[r] = (m->logits(in) - logits).abs().max().item<double>();
      }
      for (auto& [pn, p] : m->named_parameters(true)) {
        const int dim = m->tp_split_dim(pn);
        at::Tensor expect = dim < 0 ? grads.at(pn) : model::tp_slice(grads.at(pn), dim, *g);
        // Relative to the gradient's scale: the split sums run in another order.
        const double d = (p.grad() - expect).abs().max().item<double>() / (expect.abs().max().item<double>() + 1e-12);
        if (d >= grad_diff[r]) grad_diff[r] = d, worst[r] = pn;
      }
    });
    for (int r = 0; r < n; ++r) {
      INFO(name << " rank " << r << ": worst gradient " << worst[r]);
      CHECK(loss_diff[r] < 1e-6);
      CHECK(logit_diff[r] < 1e-4);
      CHECK(grad_diff[r] < 1e-5);
    }
  }
}

TEST_CASE("generation on a model split over 2 ranks samples the whole model's tokens", "[tp][generate]") {
  for (const std::string name : {"qwen3", "llama"}) {
    std::vector<gen::Request> reqs;
    for (int i = 0; i < 5; ++i) {
      gen::Request r;
      r.prompt = {static_cast<int32_t>(3 + i), 17, static_cast<int32_t>(40 + 7 * i), 9};
      r.params.temperature = i % 2 ? 0.8 : 0.0;  // greedy and seeded sampling
      r.params.seed = 100 + static_cast<uint64_t>(i);
      r.params.max_new_tokens = 6 + i;
      reqs.push_back(r);
    }
    gen::EngineOptions eo;
    eo.max_batch = 3;  // continuous batching: slots are reused
    auto whole = test::load_tiny(name);
    const auto expect = gen::Engine(*whole, nullptr, eo).generate(reqs);
    std::vector<std::vector<gen::Completion>> got(2);
    test::run_ranks(2, [&](int r, std::shared_ptr<model::TpGroup> g) {
      model::ModelOptions o;
      o.path = test::model_dir(name);
      o.attention = model::AttentionBackend::Sdpa;
      auto m = model::CausalLM::from_pretrained(o, at::kCPU, {nullptr, g});
      got[static_cast<size_t>(r)] = gen::Engine(*m, nullptr, eo).generate(reqs);
    });
    for (int r = 0; r < 2; ++r)
      for (size_t i = 0; i < reqs.size(); ++i) {
        INFO(name << " rank " << r << " request " << i);
        CHECK(got[static_cast<size_t>(r)][i].tokens == expect[i].tokens);
        for (size_t t = 0; t < expect[i].logprobs.size(); ++t)
          CHECK(std::abs(got[static_cast<size_t>(r)][i].logprobs[t] - expect[i].logprobs[t]) < 1e-5);
      }
  }
}

TEST_CASE("LoRA on a model split over 2 ranks gives the whole model's loss, gradients and merged logits", "[tp][lora]") {
  for (const auto& name : test::tiny_models()) {
    auto ref = test::load_reference(name);
    auto in = model::PackedInput::from_documents(ref.docs);
    auto labels = at::roll(in.input_ids, -1);
    model::ModelOptions o;
    o.path = test::model_dir(name);
    o.attention = model::AttentionBackend::Sdpa;
    o.lora = model::LoraOptions{};
    o.lora->rank = 4;
    o.lora->alpha = 8;
    // Column- and row-parallel projections, the vocabulary-parallel embedding and (untied) LM head.
    o.lora->target_modules = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "embed_tokens"};
    auto whole = model::CausalLM::from_pretrained(o, at::kCPU);
    if (!whole->config().tie_word_embeddings) {
      o.lora->target_modules.push_back("lm_head");
      whole = model::CausalLM::from_pretrained(o, at::kCPU);
    }
    // Non-zero factors everywhere (PEFT's init zeroes one of each pair, which would hide half the gradients).
    std::map<std::string, at::Tensor> values;
    {
      at::NoGradGuard ng;
      at::manual_seed(11);
      for (auto& [n, p] : whole->named_parameters(true)) values[n] = p.copy_(at::randn_like(p) * 0.05).clone();
    }
    auto loss_of = [&](model::CausalLM& m) {
      auto h = m.hidden_states(in);
      return algo::chunked_cross_entropy(h, m.lm_head_weight(), labels, m.vocab_size(), 7, {}, algo::vocab_shard_of(m));
    };
    auto loss = loss_of(*whole);
    loss.backward();
    std::map<std::string, at::Tensor> grads;
    for (auto& [n, p] : whole->named_parameters(true)) grads[n] = p.grad();
    at::Tensor merged;
    {
      at::NoGradGuard ng;
      whole->merge_lora();
      merged = whole->logits(in);
    }
    const int n = 2;
    std::vector<double> loss_diff(n), grad_diff(n), merged_diff(n);
    std::vector<std::string> worst(n);
    std::vector<size_t> count(n);
    test::run_ranks(n, [&](int r, std::shared_ptr<model::TpGroup> g) {
      auto m = model::CausalLM::from_pretrained(o, at::kCPU, {nullptr, g});
      {
        at::NoGradGuard ng;
        for (auto& [pn, p] : m->named_parameters(true)) {
          const int dim = m->tp_split_dim(pn);
          p.copy_(dim < 0 ? values.at(pn) : model::tp_slice(values.at(pn), dim, *g));
        }
      }
      auto l = loss_of(*m);
      l.backward();
      loss_diff[r] = std::abs(l.item<double>() - loss.item<double>()) / loss.item<double>();
      for (auto& [pn, p] : m->named_parameters(true)) {
        ++count[r];
        const int dim = m->tp_split_dim(pn);
        at::Tensor expect = dim < 0 ? grads.at(pn) : model::tp_slice(grads.at(pn), dim, *g);
        const double d = (p.grad() - expect).abs().max().item<double>() / (expect.abs().max().item<double>() + 1e-12);
        if (d >= grad_diff[r]) grad_diff[r] = d, worst[r] = pn;
      }
      at::NoGradGuard ng;
      m->merge_lora();
      merged_diff[r] = (m->logits(in) - merged).abs().max().item<double>();
    });
    for (int r = 0; r < n; ++r) {
      INFO(name << " rank " << r << ": worst gradient " << worst[r]);
      CHECK(count[r] == grads.size());
      CHECK(loss_diff[r] < 1e-6);
      CHECK(grad_diff[r] < 1e-5);
      CHECK(merged_diff[r] < 1e-4);
    }
  }
}
