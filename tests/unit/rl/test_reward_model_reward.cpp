// The `model` reward scores prompt + completion exactly as transformers scores the same text with the
// same *ForSequenceClassification checkpoint (tests/reference/hf_reward_model.py: a tiny random
// Qwen2 reward model with the quickstart tokenizer; the completion's end-of-turn token included).
#include <catch2/catch.hpp>

#include "../algo/python_reference.h"
#include "rl/rewards.h"

using namespace pt;

TEST_CASE("the model reward gives transformers' scores", "[rl][rewards][reward_model]") {
  const testing::PythonReference hf("hf_reward_model.py");
  const at::Tensor want = hf["scores"];
  const std::vector<std::pair<std::string, std::string>> texts = {
      {"<|im_start|>user\nReverse the digits: 1234<|im_end|>\n<|im_start|>assistant\n", "4321<|im_end|>"},
      {"<|im_start|>user\nReverse the digits: 1234<|im_end|>\n<|im_start|>assistant\n", "4312<|im_end|>"},
      {"<|im_start|>user\nReverse the digits: 90817<|im_end|>\n<|im_start|>assistant\n", "71809<|im_end|>"},
      {"<|im_start|>user\nReverse the digits: 5<|im_end|>\n<|im_start|>assistant\n", ""},
      {"plain text prompt ", "and a completion without special tokens"}};
  REQUIRE(want.size(0) == static_cast<int64_t>(texts.size()));
  algo::RewardOptions o;
  o.name = "model";
  o.model = hf.dir() + "/rm";
  auto rm = rl::make_reward_model(o);
  std::vector<rl::RewardSample> batch;
  for (const auto& [p, c] : texts) {
    rl::RewardSample s;
    s.prompt = p;
    // The raw text (special tokens kept) is what the reward model reads, not the decoded completion.
    s.completion = c.empty() ? c : "decoded without special tokens";
    s.completion_raw = c;
    batch.push_back(s);
  }
  const auto got = rm->score(batch);
  REQUIRE(got.size() == texts.size());
  double spread = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("text " << i << ": ours " << got[i] << ", transformers " << want[static_cast<int64_t>(i)].item<double>());
    CHECK(std::abs(got[i] - want[static_cast<int64_t>(i)].item<double>()) < 1e-5);
    spread = std::max(spread, std::abs(got[i] - got[0]));
  }
  CHECK(spread > 1e-3);  // the texts score differently: a prompt-only score could not pass
}
