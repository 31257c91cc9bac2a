// Gradient accumulation normalizes by the step's trained-token count: one micro-batch of 2k tokens
// and four of 512 give the same gradient; packed rows keep documents apart in attention.
#include <catch2/catch.hpp>

#include <torch/torch.h>

#include "../model/model_fixtures.h"
#include "algo/sft.h"
#include "data/packer.h"

using namespace pt;

namespace {
// Rows of 512 tokens, each several documents with varied trained spans.
std::vector<data::Row> rows(int n, int vocab) {
  std::vector<data::Row> out;
  torch::manual_seed(3);
  for (int r = 0; r < n; ++r) {
    data::Row row;
    int used = 0;
    for (int len : {100 + 37 * r, 150, 80, 512 - 330 - 37 * r - 20}) {
      auto ids = torch::randint(3, vocab, {len}, torch::kLong);
      for (int i = 0; i < len; ++i) {
        row.input_ids.push_back(static_cast<int32_t>(ids[i].item<int64_t>()));
        row.position_ids.push_back(i);
        bool target = i + 1 < len && (i % 3 != 0 || r == 2);
        row.labels.push_back(target ? static_cast<int32_t>(ids[(i + 1) % len].item<int64_t>()) : data::kIgnoreIndex);
        row.num_trained += target;
      }
      row.doc_lens.push_back(len);
      row.doc_source.push_back(0);
      row.doc_unit.push_back(0);
      used += len;
    }
    for (int i = used; i < 512; ++i) {
      row.input_ids.push_back(0);
      row.position_ids.push_back(i - used);
      row.labels.push_back(data::kIgnoreIndex);
    }
    row.doc_lens.push_back(512 - used);
    row.doc_source.push_back(-1);
    row.doc_unit.push_back(-1);
    row.num_tokens = used;
    out.push_back(std::move(row));
  }
  return out;
}

std::vector<at::Tensor> grads_after(model::CausalLM& m, const std::vector<data::Row>& rs, size_t per_micro) {
  for (auto& [n, p] : m.named_parameters(true))
    if (p.grad().defined()) p.mutable_grad().zero_();
  int64_t trained = 0;
  for (const auto& r : rs) trained += r.num_trained;
  algo::Sft sft;
  algo::Context ctx;
  ctx.policy = &m;
  ctx.ce_chunk = 100;
  sft.setup(ctx);
  algo::Prepared prep;
  prep.normalizer = static_cast<double>(trained);
  prep.global_trained = trained;
  for (size_t b = 0; b < rs.size(); b += per_micro) {
    auto mb = algo::make_micro_batch(rs, b, std::min(rs.size(), b + per_micro), at::kCPU);
    sft.loss(mb, b / per_micro, prep).loss.backward();
  }
  std::vector<at::Tensor> g;
  for (auto& [n, p] : m.named_parameters(true)) g.push_back(p.grad().clone());
  return g;
}
}  // namespace

TEST_CASE("1 micro-batch of 2048 tokens and 4 of 512 give the same gradient", "[train][accumulation]") {
  auto m = test::load_tiny("qwen3");
  auto rs = rows(4, 389);
  auto one = grads_after(*m, rs, 4);
  auto four = grads_after(*m, rs, 1);
  REQUIRE(one.size() == four.size());
  double worst = 0, scale = 0;
  for (size_t i = 0; i < one.size(); ++i) {
    worst = std::max(worst, (one[i] - four[i]).abs().max().item<double>());
    scale = std::max(scale, one[i].abs().max().item<double>());
  }
  INFO("max abs diff " << worst << " of max grad " << scale);
  CHECK(scale > 1e-4);
  CHECK(worst < 1e-6 * std::max(1.0, scale) + 1e-7);
}

TEST_CASE("packed micro-batches keep every document's logits equal to running it alone", "[train][packing]") {
  auto m = test::load_tiny("qwen3", model::AttentionBackend::Eager);
  auto rs = rows(2, 389);
  auto mb = algo::make_micro_batch(rs, 0, 2, at::kCPU);
  torch::NoGradGuard ng;
  auto packed = m->logits(mb.input);
  auto bounds = mb.input.boundaries();
  double worst = 0;
  for (size_t d = 0; d + 1 < bounds.size(); ++d) {
    std::vector<int64_t> doc(mb.input.input_ids.data_ptr<int64_t>() + bounds[d],
                             mb.input.input_ids.data_ptr<int64_t>() + bounds[d + 1]);
    auto alone = m->logits(model::PackedInput::from_documents({doc}));
    worst = std::max(worst, (alone - packed.narrow(0, bounds[d], bounds[d + 1] - bounds[d])).abs().max().item<double>());
  }
  CHECK(bounds.size() == 11u);  // 2 rows x (4 documents + padding) + 1
  CHECK(worst < 1e-4);
}
