// The trainer's phase order and its update contract, through an SFT that records every call:
// setup before any batch; one prepare per data step; update_starts {0, 5} over 8 micro-batches =
// two optimizer steps (micro-batches 0-4, then 5-7) from one prepared batch; no update starts =
// the batch consumed without an update (one step, no loss); the default = one update over all.
#include <catch2/catch.hpp>

#include <fstream>

#include <nlohmann/json.hpp>

#include "../temp_dir.h"
#include "algo/sft.h"
#include "data/stream.h"
#include "model/causal_lm.h"
#include "optim/adamw.h"
#include "recipe/recipe.h"
#include "train/run_plan.h"
#include "train/trainer.h"

using namespace pt;

namespace {

class RecordingSft : public algo::Sft {
 public:
  std::vector<std::string> calls;
  void setup(const algo::Context& ctx) override {
    calls.push_back("setup");
    Sft::setup(ctx);
  }
  algo::Prepared prepare(data::StepBatch& batch, bool training) override {
    algo::Prepared p = Sft::prepare(batch, training);
    calls.push_back(fmt::format("prepare {}", p.micro.size()));
    ++prepared_;
    if (prepared_ == 1) p.update_starts = {0, 5};
    if (prepared_ == 2) p.update_starts.clear();
    return p;
  }
  algo::LossOut loss(const algo::MicroBatch& mb, size_t index, const algo::Prepared& prep) override {
    calls.push_back(fmt::format("loss {}", index));
    return Sft::loss(mb, index, prep);
  }

 private:
  int prepared_ = 0;
};

}  // namespace

TEST_CASE("trainer: phase order and update starts", "[trainer][phases]") {
  testing::TempDir t;
  const auto loaded = recipe::load_recipe(std::string(PT_SOURCE_DIR) + "/examples/quickstart/recipe.yaml",
                                          {"run.output_dir=" + t.path, "trainer.max_steps=4", "trainer.eval.every=0",
                                           "trainer.eval.at_start=false", "trainer.eval.at_end=false", "schedule.warmup_steps=0",
                                           "checkpoint.save_final=false", "checkpoint.save_final_hf=false",
                                           "logging.every=1"});
  const auto& R = loaded.recipe;
  auto tok = train::load_tokenizer(R, true);
  auto model = model::CausalLM::from_pretrained(R.model, at::kCPU);
  data::DataSet ds(R.data, &*tok, tok::MaskOptions{}, static_cast<uint64_t>(R.run.seed), model->vocab_size(), 1 << 20);
  auto optimizer = optim::make_optimizer(R.optimizer, *model);
  RecordingSft algorithm;
  train::TrainerParts parts;
  parts.recipe = &loaded;
  parts.tokenizer = &*tok;
  parts.data = &ds;
  parts.model = model.get();
  parts.optimizer = &optimizer;
  parts.algorithm = &algorithm;
  const nlohmann::json provenance = nlohmann::json::object();
  parts.provenance = &provenance;
  train::Trainer trainer(parts);
  REQUIRE(trainer.fit(std::nullopt) == 0);

  std::vector<std::string> expect{"setup", "prepare 8"};
  for (int i = 0; i < 8; ++i) expect.push_back(fmt::format("loss {}", i));  // steps 1 (0-4) and 2 (5-7)
  expect.push_back("prepare 8");                                             // step 3: no update
  expect.push_back("prepare 8");                                             // step 4: one update
  for (int i = 0; i < 8; ++i) expect.push_back(fmt::format("loss {}", i));
  CHECK(algorithm.calls == expect);

  // Four logged steps; the frozen one at learning rate 0 with no gradient.
  std::ifstream metrics(t.path + "/quickstart/metrics.jsonl");
  std::vector<nlohmann::json> steps;
  for (std::string line; std::getline(metrics, line);) steps.push_back(nlohmann::json::parse(line));
  REQUIRE(steps.size() == 4);
  for (int s = 0; s < 4; ++s) CHECK(steps[s]["step"] == s + 1);
  CHECK(steps[2]["lr"] == 0.0);
  CHECK(steps[0]["lr"].get<double>() > 0);
  CHECK(steps[3]["lr"].get<double>() > 0);
}
