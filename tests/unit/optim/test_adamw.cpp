// AdamW parameter groups: decoupled weight decay on weights, never on norms and biases.
#include <catch2/catch.hpp>

#include <torch/torch.h>

#include "../model/model_fixtures.h"
#include "../temp_dir.h"
#include "optim/adamw.h"
#include "train/batch.h"

using namespace pt;

TEST_CASE("norms and biases are in the no-decay group and are not decayed", "[optim][adamw]") {
  auto m = test::load_tiny("qwen2");  // has q/k/v biases
  optim::OptimizerOptions o;
  o.lr = 0.1;
  o.weight_decay = 0.5;
  auto opt = optim::make_optimizer(o, *m);
  int64_t norms_and_biases = 0;
  for (const auto& [n, p] : m->named_parameters(true))
    if (n.find("norm") != std::string::npos || n.size() > 5 && n.compare(n.size() - 5, 5, ".bias") == 0) ++norms_and_biases;
  CHECK(opt.num_no_decay == norms_and_biases);
  CHECK(opt.num_decay + opt.num_no_decay == static_cast<int64_t>(m->named_parameters(true).size()));
  // With zero gradients only the decoupled decay moves parameters: p <- p * (1 - lr * wd).
  std::map<std::string, at::Tensor> before;
  for (const auto& [n, p] : m->named_parameters(true)) {
    before[n] = p.detach().clone();
    p.mutable_grad() = torch::zeros_like(p);
  }
  opt.adamw->step();
  for (const auto& [n, p] : m->named_parameters(true)) {
    INFO(n);
    const bool decays = m->is_decay_param(n);
    auto expected = decays ? before[n] * (1 - 0.1 * 0.5) : before[n];
    CHECK(torch::allclose(p.detach(), expected, 1e-6, 1e-7));
  }
}

TEST_CASE("the fused AdamW step equals libtorch's AdamW step, state and checkpoint included", "[optim][adamw]") {
  torch::manual_seed(3);
  optim::OptimizerOptions o;
  o.lr = 0.01;
  o.weight_decay = 0.1;
  o.betas = {0.9, 0.95};
  auto make = [] { return std::vector<at::Tensor>{torch::randn({7, 5}), torch::randn({13})}; };
  auto init = make();
  std::vector<at::Tensor> ours, theirs;
  for (auto& t : init) {
    ours.push_back(t.clone().requires_grad_());
    theirs.push_back(t.clone().requires_grad_());
  }
  // A strided parameter (a transposed view) steps like a contiguous one.
  ours[0] = init[0].t().contiguous().t().requires_grad_();
  REQUIRE(!ours[0].is_contiguous());
  auto opt = optim::make_optimizer(o, {ours[0]}, {ours[1]});
  auto base = torch::optim::AdamWOptions(o.lr).betas({0.9, 0.95}).eps(o.eps);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  auto decay = std::make_unique<torch::optim::AdamWOptions>(base);
  decay->weight_decay(o.weight_decay);
  auto none = std::make_unique<torch::optim::AdamWOptions>(base);
  none->weight_decay(0.0);
  groups.emplace_back(std::vector<at::Tensor>{theirs[0]}, std::move(decay));
  groups.emplace_back(std::vector<at::Tensor>{theirs[1]}, std::move(none));
  torch::optim::AdamW reference(std::move(groups), base);
  pt::testing::TempDir dir;
  for (int step = 0; step < 6; ++step) {
    auto grads = make();
    for (size_t i = 0; i < grads.size(); ++i) {
      ours[i].mutable_grad() = grads[i].clone();
      theirs[i].mutable_grad() = grads[i].clone();
    }
    if (step == 3) ours[1].mutable_grad() = at::Tensor();  // a parameter without gradient is skipped
    if (step == 3) theirs[1].mutable_grad() = at::Tensor();
    opt.adamw->step();
    reference.step();
    if (step == 2) {  // saved and loaded mid-run: the rest continues from the loaded moments and step count
      opt.save(dir.path + "/opt.pt");
      auto again = optim::make_optimizer(o, {ours[0]}, {ours[1]});
      again.load(dir.path + "/opt.pt");
      opt = std::move(again);
    }
    for (size_t i = 0; i < ours.size(); ++i) {
      INFO("step " << step << " tensor " << i);
      CHECK((ours[i] - theirs[i]).abs().max().item<double>() < 1e-6);
    }
  }
}

TEST_CASE("step FLOPs count attention per document, not per row", "[train][mfu]") {
  model::HfConfig c;
  c.vocab_size = 1000;
  c.hidden_size = 64;
  c.intermediate_size = 128;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 16;
  const double dense = train::step_flops(c, 512, 0, {});
  CHECK(dense == Approx(6.0 * c.num_parameters(false) * 512));
  const double head = train::step_flops(c, 0, 100, {});
  CHECK(head == Approx(6.0 * 1000 * 64 * 100));
  // Two documents of 256 cost half the attention of one of 512.
  const double two = train::step_flops(c, 0, 0, {256, 256}), one = train::step_flops(c, 0, 0, {512});
  CHECK(two == Approx(one / 2));
  CHECK(one == Approx(6.0 * 2 * 64 * 512.0 * 512.0));
}
