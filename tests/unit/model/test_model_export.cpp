// What we save must load in transformers / peft and give our logits. Drives the reference venv's
// python (PT_PYTHON, set up by scripts/setup.sh) through scripts/hf_reference_logits.py.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <map>

#include <unistd.h>

#include "model/arch.h"
#include "model_fixtures.h"

using namespace pt;
namespace fs = std::filesystem;

namespace {

std::string tmp_dir(const std::string& name) {
  // Per process: ctest runs test cases as parallel processes.
  auto d = fs::temp_directory_path() / ("pt_export_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d.string();
}

// transformers' logits for the reference documents of `fixture`, from `model_dir` (+ adapter).
std::vector<at::Tensor> hf_logits(const std::string& model_dir, const std::string& fixture,
                                  const std::string& adapter = "") {
  static int calls = 0;
  std::string work = tmp_dir("hf" + std::to_string(calls++));
  std::string py = PT_PYTHON;
  REQUIRE_FALSE(py.empty());  // scripts/setup.sh configures the reference venv
  std::string out = work + "/hf_logits.safetensors";
  std::string cmd = py + " " + PT_SOURCE_DIR + "/scripts/hf_reference_logits.py " + model_dir + " " + out +
                    " --inputs " + test::model_dir(fixture) + "/reference.safetensors" +
                    (adapter.empty() ? "" : " --adapter " + adapter) + " > " + work + "/hf.log 2>&1";
  INFO(cmd);
  REQUIRE(std::system(cmd.c_str()) == 0);
  model::SafetensorsFile f(out);
  std::vector<at::Tensor> r;
  for (int i = 0; f.contains("doc" + std::to_string(i) + "_logits"); ++i)
    r.push_back(f.view("doc" + std::to_string(i) + "_logits").clone());
  return r;
}

void perturb(model::CausalLM& m, double scale) {
  at::NoGradGuard ng;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(42);
  for (auto& [n, p] : m.named_parameters(true)) p.add_(at::randn(p.sizes(), gen, p.options()) * scale);
}

double max_diff(model::CausalLM& m, const test::Reference& ref, const std::vector<at::Tensor>& hf) {
  at::NoGradGuard ng;
  double worst = 0;
  for (size_t i = 0; i < ref.docs.size(); ++i) {
    auto ours = m.logits(model::PackedInput::from_documents({ref.docs[i]}));
    worst = std::max(worst, (ours - hf[i]).abs().max().item<double>());
  }
  return worst;
}

}  // namespace

TEST_CASE("a saved model loads in transformers with our logits", "[model][export][python]") {
  for (std::string name : {"llama", "qwen3"}) {
    auto m = test::load_tiny(name);
    perturb(*m, 0.05);  // so the check cannot pass by reading back the original files
    std::string dir = tmp_dir(name);
    m->save_pretrained(dir);
    REQUIRE(fs::exists(dir + "/config.json"));
    REQUIRE(fs::exists(dir + "/generation_config.json"));
    auto ref = test::load_reference(name);
    double d = max_diff(*m, ref, hf_logits(dir, name));
    std::printf("export %-6s transformers-vs-ours max_abs=%.3g\n", name.c_str(), d);
    CHECK(d <= 1e-4);
    // Our own loader reads it back identically, with the original vocab size on disk.
    model::ModelOptions o;
    o.path = dir;
    auto again = model::CausalLM::from_pretrained(o, at::kCPU);
    REQUIRE(again->vocab_size() == 389);
    CHECK(max_diff(*again, ref, hf_logits(dir, name)) <= 1e-4);
  }
}

TEST_CASE("a LoRA adapter loads in peft with our logits and so does the merged export", "[model][lora][python]") {
  model::ModelOptions o;
  o.path = test::model_dir("qwen2");
  o.lora = model::LoraOptions{};
  o.lora->rank = 4;
  o.lora->alpha = 8;
  o.lora->target_modules = {"q_proj",  "k_proj",    "v_proj",  "o_proj",
                            "gate_proj", "up_proj", "down_proj", "lm_head", "embed_tokens"};
  auto m = model::CausalLM::from_pretrained(o, at::kCPU);
  m->train(false);
  auto ref = test::load_reference("qwen2");
  // B = 0 at init: the adapted model is exactly the base model.
  {
    at::NoGradGuard ng;
    auto l = m->logits(model::PackedInput::from_documents({ref.docs[1]}));
    REQUIRE((l - ref.logits[1]).abs().max().item<double>() <= 1e-4);
  }
  for (const auto& [n, p] : m->named_parameters(false))
    if (n.find("lora_") == std::string::npos) REQUIRE_FALSE(p.requires_grad());
  REQUIRE(m->named_parameters(true).size() == 2u * 7u * 2u + 4u);  // A and B, 7 modules x 2 layers, head, embed
  perturb(*m, 0.2);
  std::string dir = tmp_dir("lora");
  m->save_pretrained(dir, /*merge_lora=*/true);
  REQUIRE(fs::exists(dir + "/adapter_config.json"));
  REQUIRE(fs::exists(dir + "/adapter_model.safetensors"));
  model::SafetensorsFile adapter(dir + "/adapter_model.safetensors");
  REQUIRE(adapter.contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"));
  REQUIRE(adapter.info("base_model.model.lm_head.lora_B.weight").shape[0] == 389);  // unpadded
  REQUIRE(adapter.info("base_model.model.model.embed_tokens.lora_embedding_A").shape[1] == 389);
  double d = max_diff(*m, ref, hf_logits(test::model_dir("qwen2"), "qwen2", dir));
  std::printf("lora   qwen2  peft-vs-ours max_abs=%.3g\n", d);
  CHECK(d <= 1e-4);
  double dm = max_diff(*m, ref, hf_logits(dir + "/merged", "qwen2"));
  std::printf("lora   qwen2  merged-transformers-vs-ours max_abs=%.3g\n", dm);
  CHECK(dm <= 1e-4);
}

TEST_CASE("every architecture names its HF model_type and a created model's config carries it", "[model][export]") {
  const std::map<std::string, std::string> expected{
      {"LlamaForCausalLM", "llama"},       {"MistralForCausalLM", "mistral"}, {"Qwen2ForCausalLM", "qwen2"},
      {"Qwen3ForCausalLM", "qwen3"},       {"Gemma3ForCausalLM", "gemma3_text"},
      {"Qwen3MoeForCausalLM", "qwen3_moe"}};  // the prefix chain it replaced wrote "qwen3" here
  REQUIRE(model::all_architectures().size() == expected.size());
  for (const auto* a : model::all_architectures()) CHECK(a->model_type == expected.at(a->hf_name));
  for (const char* arch : {"MistralForCausalLM", "Qwen3ForCausalLM"}) {
    model::ModelOptions o;
    o.init.emplace();
    o.init->architecture = arch;
    o.init->vocab_size = 64;
    o.init->hidden_size = 32;
    o.init->intermediate_size = 64;
    o.init->num_hidden_layers = 1;
    o.init->num_attention_heads = 2;
    o.init->num_key_value_heads = 2;
    auto m = model::CausalLM::from_pretrained(o, at::kCPU);
    CHECK(m->config().raw.value("model_type", "") == expected.at(arch));
  }
}

// PPO's value head on the policy: a trainable parameter pair of the model, saved beside the HF
// files under TRL's names (transformers' model.safetensors keeps its own tensors only), loaded back
// only when asked for, and part of the trainable state a checkpoint saves.
TEST_CASE("value head on the policy: saved beside the model, loaded back bit for bit", "[value_head]") {
  model::ModelOptions o;
  o.path = test::model_dir("qwen2");
  o.value_head = true;
  auto m = model::CausalLM::from_pretrained(o, at::kCPU);
  REQUIRE(m->has_value_head());
  bool listed = false;
  for (const auto& [n, p] : m->named_parameters(true)) listed |= n == "v_head.summary.weight" && p.requires_grad();
  CHECK(listed);
  perturb(*m, 0.5);
  const auto ref = test::load_reference("qwen2");
  at::NoGradGuard ng;
  auto values = [&](model::CausalLM& x) {
    return x.value_head(x.hidden_states(model::PackedInput::from_documents({ref.docs[1]})));
  };
  const at::Tensor before = values(*m);
  CHECK(before.sizes() == at::IntArrayRef{static_cast<int64_t>(ref.docs[1].size())});
  const std::string dir = tmp_dir("value_head");
  m->save_pretrained(dir);
  CHECK(fs::exists(dir + "/value_head.safetensors"));
  CHECK(fs::exists(dir + "/value_head.json"));
  CHECK_FALSE(model::SafetensorsFile(dir + "/model.safetensors").contains("v_head.summary.weight"));
  model::ModelOptions back = o;
  back.path = dir;
  auto again = model::CausalLM::from_pretrained(back, at::kCPU);
  CHECK(at::equal(values(*again), before));
  back.value_head = false;
  CHECK_FALSE(model::CausalLM::from_pretrained(back, at::kCPU)->has_value_head());
  // The trainable state (checkpoints) carries the head: a fresh head takes the saved one's values.
  m->save_state(dir + "/trainable.safetensors");
  auto fresh = model::CausalLM::from_pretrained(o, at::kCPU);
  CHECK_FALSE(at::equal(values(*fresh), before));
  fresh->load_state(dir + "/trainable.safetensors");
  CHECK(at::equal(values(*fresh), before));
  model::ModelOptions lora = o;
  lora.lora = model::LoraOptions{};
  CHECK_THROWS_WITH(model::CausalLM::from_pretrained(lora, at::kCPU), Catch::Contains("LoRA freezes the base"));
}
