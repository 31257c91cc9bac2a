// *ForSequenceClassification checkpoints (reward models, classifiers) load into our decoder with
// their score head and give transformers' logits at each sequence's last token; packed documents
// score as they do alone; a saved copy reloads with the same head; as a reward function it returns
// one score per completion.
#include <catch2/catch.hpp>

#include <cstdlib>

#include "registry/builtins.h"
#include "../temp_dir.h"
#include "model/causal_lm.h"
#include "model/safetensors.h"
#include "rl/rewards.h"

using namespace pt;

TEST_CASE("sequence-classification heads match transformers", "[model][reward_model][python]") {
  testing::TempDir dir;
  for (auto [arch, labels] : {std::pair<const char*, int>{"qwen2", 1}, {"llama", 3}}) {
    INFO(arch << " num_labels " << labels);
    const std::string m = dir.path + "/" + arch;
    const std::string cmd = std::string(PT_PYTHON) + " " + PT_SOURCE_DIR + "/tests/reference/make_seq_cls.py " + m +
                            " " + arch + " " + std::to_string(labels) + " 2>/dev/null";
    REQUIRE(std::system(cmd.c_str()) == 0);
    model::ModelOptions o;
    o.path = m;
    o.dtype = model::Dtype::Float32;
    auto cls = model::CausalLM::from_pretrained(o, at::kCPU);
    REQUIRE(cls->has_score_head());
    CHECK(cls->config().num_labels == labels);
    model::SafetensorsFile ref(m + "/reference.safetensors");
    std::vector<std::vector<int64_t>> docs;
    double worst = 0;
    at::NoGradGuard ng;
    for (int i = 0; ref.contains("doc" + std::to_string(i) + "_ids"); ++i) {
      auto ids = ref.view("doc" + std::to_string(i) + "_ids").clone();
      docs.emplace_back(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel());
      auto ours = cls->score_logits(model::PackedInput::from_documents({docs.back()}));
      worst = std::max(worst, (ours[0] - ref.view("doc" + std::to_string(i) + "_logits")).abs().max().item<double>());
    }
    auto packed = cls->score_logits(model::PackedInput::from_documents(docs));
    for (size_t i = 0; i < docs.size(); ++i)
      worst = std::max(worst, (packed[static_cast<int64_t>(i)] - ref.view("doc" + std::to_string(i) + "_logits"))
                                  .abs().max().item<double>());
    std::printf("sequence classification %-6s labels %d: max abs diff vs transformers %.2e\n", arch, labels, worst);
    CHECK(worst < 1e-4);
    CHECK_THROWS_WITH(cls->lm_head_weight(), Catch::Contains("without an LM head"));
    // Saved and reloaded: the same head, the same scores.
    cls->save_pretrained(dir.path + "/saved-" + arch);
    o.path = dir.path + "/saved-" + arch;
    auto again = model::CausalLM::from_pretrained(o, at::kCPU);
    CHECK((again->score_logits(model::PackedInput::from_documents(docs)) - packed).abs().max().item<double>() == 0);
    if (labels == 1) {
      algo::RewardOptions ro;
      ro.name = "model";
      ro.model = m;
      rl::RewardSet set({ro}, registry::make_reward);
      rl::RewardSample s;
      s.prompt = "Reverse the digits: 12";
      s.completion = "21";
      auto sc = set.score({s, s});
      CHECK(sc.total[0] == Approx(sc.total[1]).epsilon(1e-5));
      CHECK(std::isfinite(sc.total[0]));
    } else {
      algo::RewardOptions ro;
      ro.name = "model";
      ro.model = m;
      CHECK_THROWS_WITH(rl::RewardSet({ro}, registry::make_reward), Catch::Contains("has 3 labels"));
    }
  }
}
