// The run plan (train/run_plan.h): the decisions `posttrain run` builds from and `--dry-run` prints,
// derived from the quickstart recipe with one setting changed at a time.
#include <catch2/catch.hpp>

#include <filesystem>

#include "../temp_dir.h"
#include "recipe/recipe.h"
#include "train/run_plan.h"

using namespace pt;

namespace {
const std::string kRecipe = std::string(PT_SOURCE_DIR) + "/examples/quickstart/recipe.yaml";

train::RunPlan plan_of(const std::vector<std::string>& sets, bool cuda = false,
                       const std::optional<std::string>& resume = std::nullopt) {
  const auto loaded = recipe::load_recipe(kRecipe, sets);
  const auto tok = train::load_tokenizer(loaded.recipe, true);
  return train::make_run_plan(loaded.recipe, resume, cuda, tok ? &*tok : nullptr);
}
}  // namespace

TEST_CASE("run plan: device and precision", "[run_plan]") {
  auto p = plan_of({});
  CHECK_FALSE(p.cuda);
  CHECK_FALSE(p.autocast_bf16);
  CHECK(p.dtype == model::Dtype::Float32);
  CHECK(p.algorithm == "sft");
  // bf16 autocast keeps fp32 master weights where the recipe leaves the dtype to us.
  p = plan_of({"trainer.precision=bf16", "model.dtype=auto"});
  CHECK(p.autocast_bf16);
  CHECK(p.dtype == model::Dtype::Float32);
  // auto precision: autocast only on a GPU, and only where the recipe lets the run use one.
  CHECK(plan_of({"parallel.device=auto"}, /*cuda=*/true).autocast_bf16);
  CHECK_FALSE(plan_of({"parallel.device=auto"}, /*cuda=*/false).autocast_bf16);
  CHECK_FALSE(plan_of({}, /*cuda=*/true).cuda);  // parallel.device: cpu
}

TEST_CASE("run plan: tokenizer, vocabulary growth and sharded loading", "[run_plan]") {
  auto p = plan_of({});
  CHECK(p.tokenizer_here);
  CHECK(p.tokenizer_vocab == 300);
  CHECK(p.model_vocab == 300);
  CHECK_FALSE(p.grow_vocab);
  CHECK_FALSE(p.zero3);
  // Added tokens grow the embedding; the grown rows are not in the files, so ZeRO-3 loads them whole.
  p = plan_of({"tokenizer.add_tokens=[<a>, <b>]", "parallel.strategy=fsdp", "parallel.zero_stage=3"});
  CHECK(p.grow_vocab);
  CHECK(p.tokenizer_vocab == 302);
  CHECK(p.original_vocab == 300);
  CHECK(p.sharded_load);
  CHECK_FALSE(p.rest_sharded);
  p = plan_of({"parallel.strategy=fsdp", "parallel.zero_stage=3"});
  CHECK(p.sharded_load);
  CHECK(p.rest_sharded);
  CHECK_FALSE(plan_of({"parallel.strategy=fsdp", "parallel.zero_stage=2"}).sharded_load);
  // LoRA keeps the base whole: nothing to shard at load.
  CHECK_FALSE(plan_of({"parallel.strategy=fsdp", "parallel.zero_stage=3", "model.lora.rank=4"}).sharded_load);
  // A tokenizer larger than the model with nothing added is refused with both named.
  CHECK_THROWS_WITH(plan_of({"tokenizer.path=" + std::string(PT_SOURCE_DIR) + "/tests/assets/tokenizers/qwen3"}),
                    Catch::Contains("ids would index past the embedding") && Catch::Contains("qwen3"));
  // Positions past the model's are allowed (RoPE scaling) but said.
  CHECK(plan_of({"data.seq_len=1024"}).warnings.size() == 1);
}

TEST_CASE("run plan: a resumed run's weights", "[run_plan]") {
  testing::TempDir t;
  namespace fs = std::filesystem;
  const std::string ckpt = t.path + "/step-00000010";
  fs::create_directories(ckpt + "/model");
  fs::copy_file(std::string(PT_SOURCE_DIR) + "/examples/quickstart/model/config.json", ckpt + "/model/config.json");
  auto p = plan_of({}, false, ckpt);
  CHECK(p.model_path == ckpt + "/model");
  CHECK_FALSE(p.from_shards);
  // LoRA reloads the base, then its trainable tensors.
  p = plan_of({"model.lora.rank=4"}, false, ckpt);
  CHECK(p.model_path.find("examples/quickstart/model") != std::string::npos);
  // A ZeRO-3 checkpoint's layers are shards: resumed by ZeRO-3 only.
  fs::create_directories(ckpt + "/model_shards");
  CHECK(plan_of({"parallel.strategy=fsdp", "parallel.zero_stage=3"}, false, ckpt).from_shards);
  CHECK_THROWS_WITH(plan_of({}, false, ckpt), Catch::Contains("fsdp ZeRO-3 shards"));
}
