// GPU-only checks, hidden from the default run ([.gpu]): CTest runs them as `gpu:unit` (label gpu,
// skipped where no GPU is visible) and scripts/gpu/check.sh runs them with the rest of the GPU checks.
#include <catch2/catch.hpp>

#include <ATen/autocast_mode.h>
#include <torch/cuda.h>

#include <cstdio>

#include "algo/algorithm.h"
#include "../model/grad_probe.h"
#include "../model/model_fixtures.h"
#include "parallel/comm.h"
#include "../parallel/zero3_check.h"

using namespace pt;

namespace {
at::Device cuda0() {
  if (!torch::cuda::is_available()) FAIL("no CUDA device visible");
  return at::Device(at::kCUDA, 0);
}

std::unique_ptr<model::CausalLM> load_cuda(const std::string& name, model::AttentionBackend attn, model::Dtype dtype) {
  model::ModelOptions o;
  o.path = test::model_dir(name);
  o.attention = attn;
  o.dtype = dtype;
  return model::CausalLM::from_pretrained(o, cuda0());
}

using test::max_abs;
using test::probe_grads;
using test::probe_loss;
}  // namespace

TEST_CASE("gpu: flash varlen attention equals SDPA on packed documents (logits and gradients)", "[.gpu]") {
  // Both runs are bf16 on the GPU; they differ only in the attention kernel (flash varlen over the
  // packed row vs SDPA with the block-diagonal mask). mistral has a sliding window of 8 that the
  // longer documents exceed.
  for (const std::string name : {"qwen3", "llama", "mistral"}) {
    auto ref = test::load_reference(name);
    auto in = model::PackedInput::from_documents(ref.docs, cuda0());
    auto flash = load_cuda(name, model::AttentionBackend::Flash, model::Dtype::BFloat16);
    auto sdpa = load_cuda(name, model::AttentionBackend::Sdpa, model::Dtype::BFloat16);
    at::Tensor lf, ls;
    auto gf = probe_grads(*flash, in, &lf);
    auto gs = probe_grads(*sdpa, in, &ls);
    const double dl = max_abs(lf, ls);
    double worst_rel = 0;
    for (const auto& [n, g] : gs) {
      const double scale = std::max(g.abs().max().item<double>(), 1e-6);
      worst_rel = std::max(worst_rel, max_abs(gf.at(n), g) / scale);
    }
    std::printf("gpu flash vs sdpa %-8s logits max_abs=%.3g, grads max_abs/max=%.3g\n", name.c_str(), dl, worst_rel);
    // bf16 rounding of two kernels that sum in different orders: ~1e-2 on logits of magnitude ~3.
    CHECK(dl <= 0.05);
    CHECK(worst_rel <= 0.05);
  }
}

TEST_CASE("gpu: flash with shared prompts (prefix documents) equals SDPA with them", "[.gpu]") {
  // An RL update's layout (algo::completion_micro_batch, share): the first reference document as a
  // prompt shared by completions made of the others; mistral's window of 8 crosses the prefix.
  for (const std::string name : {"qwen3", "mistral"}) {
    auto ref = test::load_reference(name);
    std::vector<std::vector<int32_t>> docs;
    for (const auto& d : ref.docs) docs.emplace_back(d.begin(), d.end());
    std::vector<algo::CompletionSeq> seqs;
    for (size_t i = 1; i < docs.size(); ++i) seqs.push_back({&docs[0], &docs[i], nullptr});
    const auto mb = algo::completion_micro_batch(seqs, true, cuda0());
    REQUIRE(mb.input.has_prefixes());
    auto flash = load_cuda(name, model::AttentionBackend::Flash, model::Dtype::BFloat16);
    auto sdpa = load_cuda(name, model::AttentionBackend::Sdpa, model::Dtype::BFloat16);
    at::Tensor lf, ls;
    auto gf = probe_grads(*flash, mb.input, &lf);
    auto gs = probe_grads(*sdpa, mb.input, &ls);
    const double worst_cos = test::worst_cosine(gs, gf);
    std::printf("gpu flash vs sdpa, shared prompts %-8s logits max_abs=%.3g, worst grad cosine %.5f\n", name.c_str(),
                max_abs(lf, ls), worst_cos);
    CHECK(max_abs(lf, ls) <= 0.05);
    CHECK(worst_cos >= 0.99);
  }
}

TEST_CASE("gpu: a bf16-autocast step stays within tolerance of fp32", "[.gpu]") {
  // What trainer.precision: bf16 does: fp32 master weights, the forward under CUDA autocast.
  auto ref = test::load_reference("qwen3");
  auto in = model::PackedInput::from_documents(ref.docs, cuda0());
  auto m = load_cuda("qwen3", model::AttentionBackend::Sdpa, model::Dtype::Float32);
  at::Tensor l32, l16;
  auto g32 = probe_grads(*m, in, &l32);
  std::map<std::string, at::Tensor> g16;
  {
    at::autocast::set_autocast_enabled(at::kCUDA, true);
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    g16 = probe_grads(*m, in, &l16);
    at::autocast::set_autocast_enabled(at::kCUDA, false);
    at::autocast::clear_cache();
  }
  const double loss32 = probe_loss(l32).item<double>(), loss16 = probe_loss(l16).item<double>();
  const double worst_cos = test::worst_cosine(g32, g16);
  std::printf("gpu bf16 autocast vs fp32: logits max_abs=%.3g, probe loss %.6f vs %.6f, worst grad cosine %.5f\n",
              max_abs(l16, l32), loss16, loss32, worst_cos);
  // The fp32 reference on the GPU itself matches transformers' CPU logits.
  CHECK(max_abs(l32.cpu(), at::cat(ref.logits, 0)) <= 1e-3);
  CHECK(std::abs(loss16 - loss32) <= 2e-2 * std::abs(loss32));
  CHECK(worst_cos >= 0.99);
}

TEST_CASE("gpu: flash attention under bf16 autocast with fp32 weights equals SDPA under autocast", "[.gpu]") {
  // trainer.precision: bf16 with model.attention: flash — fp32 master weights, RoPE promoting q and k
  // back to fp32: flash must run on the autocast dtype (the kernel takes no fp32) and agree with SDPA.
  auto ref = test::load_reference("qwen3");
  auto in = model::PackedInput::from_documents(ref.docs, cuda0());
  auto flash = load_cuda("qwen3", model::AttentionBackend::Flash, model::Dtype::Float32);
  auto sdpa = load_cuda("qwen3", model::AttentionBackend::Sdpa, model::Dtype::Float32);
  at::Tensor lf, ls;
  std::map<std::string, at::Tensor> gf, gs;
  at::autocast::set_autocast_enabled(at::kCUDA, true);
  at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
  gf = probe_grads(*flash, in, &lf);
  gs = probe_grads(*sdpa, in, &ls);
  at::autocast::set_autocast_enabled(at::kCUDA, false);
  at::autocast::clear_cache();
  const double worst_cos = test::worst_cosine(gs, gf);
  std::printf("gpu flash vs sdpa under bf16 autocast (fp32 weights): logits max_abs=%.3g, worst grad cosine %.5f\n",
              max_abs(lf, ls), worst_cos);
  CHECK(max_abs(lf, ls) <= 0.05);
  CHECK(worst_cos >= 0.99);
  // Without autocast an fp32 model cannot use flash: a clear error, not a kernel's.
  CHECK_THROWS_WITH(flash->logits(in), Catch::Contains("needs bf16 or fp16 inputs"));
}

TEST_CASE("gpu: the NCCL communicator (world size 1) reduces, scatters and gathers on the device", "[.gpu]") {
  const at::Device d = cuda0();
  auto comm = parallel::make_comm(parallel::Backend::Nccl, d);
  REQUIRE(comm->name() == "nccl");
  REQUIRE(comm->size() == 1);
  auto t = at::arange(10, at::TensorOptions().dtype(at::kFloat).device(d));
  const auto want = t.clone();
  comm->all_reduce_sum(t)->wait();
  auto out = at::empty({10}, t.options());
  comm->reduce_scatter_sum(t, out)->wait();
  auto back = at::empty({10}, t.options());
  comm->all_gather(out, back)->wait();
  torch::cuda::synchronize();
  CHECK(at::equal(t, want));
  CHECK(at::equal(out, want));
  CHECK(at::equal(back, want));
}

TEST_CASE("gpu: ZeRO-3 over a model on the device (world size 1, NCCL) gives autograd's gradients", "[.gpu]") {
  const double err = test::zero3_grad_error("qwen2", cuda0(), parallel::Backend::Nccl);
  std::printf("ZeRO-3 on the GPU (world size 1): max |grad - autograd| %.2e\n", err);
  CHECK(err < 1e-5);
}
