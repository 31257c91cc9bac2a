#include <catch2/catch.hpp>

#include "recipe/recipe.h"

using namespace pt::recipe;

static const std::string kAssets = std::string(PT_SOURCE_DIR) + "/tests/assets/recipes/";

static std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const pt::Error& e) {
    return e.what();
  }
  return "<no error>";
}

static LoadedRecipe from_text(const std::string& text, const std::vector<std::string>& sets = {}) {
  Node n = parse_yaml(text, "inline.yaml");
  for (const auto& s : sets) apply_override(n, s);
  return from_tree(n);
}

static const char* kMinimal = R"(run: {name: t}
model: {path: m}
data:
  seq_len: 64
  sources: [{path: d.jsonl}]
trainer: {global_batch_tokens: 256}
)";

TEST_CASE("minimal recipe gets every default filled in") {
  auto r = from_text(kMinimal);
  REQUIRE(r.recipe.run.name == "t");
  REQUIRE(r.recipe.run.seed == 1234);
  REQUIRE(r.recipe.optimizer.lr == Approx(2e-5));
  REQUIRE(r.recipe.data.sources.at(0).format == pt::data::Format::Chat);
  REQUIRE(r.recipe.algorithm.name == pt::algo::Name::Sft);
  REQUIRE(r.canonical_yaml.find("vocab_pad_multiple: 64") != std::string::npos);
  REQUIRE(r.hash.size() == 16);
}

TEST_CASE("canonical dump parses back to the same recipe and hash") {
  auto r = from_text(kMinimal);
  auto again = from_tree(parse_yaml(r.canonical_yaml, "canonical.yaml"));
  REQUIRE(again.canonical_yaml == r.canonical_yaml);
  REQUIRE(again.hash == r.hash);
}

TEST_CASE("unknown keys fail with file:line:col and a suggestion") {
  auto msg = error_of([] { from_text(std::string(kMinimal) + "optimizer: {lerning_rate: 1}\n"); });
  REQUIRE_THAT(msg, Catch::Contains("inline.yaml:7:"));
  REQUIRE_THAT(msg, Catch::Contains("unknown key 'lerning_rate' in 'optimizer'"));
  msg = error_of([] { from_text(std::string(kMinimal) + "optimiser: {lr: 1}\n"); });
  REQUIRE_THAT(msg, Catch::Contains("did you mean 'optimizer'"));
}

TEST_CASE("wrong types and out-of-range values name the key and what was expected") {
  auto msg = error_of([] { from_text(kMinimal, {"optimizer.lr=fast"}); });
  REQUIRE_THAT(msg, Catch::Contains("expected a finite number for 'optimizer.lr', got 'fast'"));
  REQUIRE_THAT(msg, Catch::Contains("--set optimizer.lr=fast"));
  msg = error_of([] { from_text(kMinimal, {"optimizer.lr=-1"}); });
  REQUIRE_THAT(msg, Catch::Contains("out of range: expected > 0"));
  msg = error_of([] { from_text(kMinimal, {"data.seq_len=1.5"}); });
  REQUIRE_THAT(msg, Catch::Contains("expected an integer for 'data.seq_len'"));
  msg = error_of([] { from_text(kMinimal, {"model.attention=flsh"}); });
  REQUIRE_THAT(msg, Catch::Contains("expected one of auto, eager, sdpa, flash (did you mean 'flash'?)"));
  msg = error_of([] { from_text(kMinimal, {"data.packing=maybe"}); });
  REQUIRE_THAT(msg, Catch::Contains("expected true or false"));
  msg = error_of([] { from_text(kMinimal, {"data.sources=3"}); });
  REQUIRE_THAT(msg, Catch::Contains("expected a list for 'data.sources'"));
}

TEST_CASE("missing required keys are named") {
  auto msg = error_of([] { from_text("run: {name: x}\n"); });
  REQUIRE_THAT(msg, Catch::Contains("missing required key 'model'"));
  msg = error_of([] { from_text("run: {name: x}\nmodel: {dtype: float32}\n"); });
  REQUIRE_THAT(msg, Catch::Contains("model.path is required (or model.init"));
  msg = error_of([] { from_text("run: {name: x}\nmodel: {init: {hidden_size: 64}}\n"); });
  REQUIRE_THAT(msg, Catch::Contains("missing required key 'model.init.vocab_size'"));
}

TEST_CASE("set overrides are type-checked and can create nested keys and lists") {
  auto r = from_text(kMinimal, {"optimizer.lr=3e-4", "optimizer.betas=[0.9, 0.95]", "model.lora.rank=8"});
  REQUIRE(r.recipe.optimizer.lr == Approx(3e-4));
  REQUIRE(r.recipe.optimizer.betas == std::vector<double>{0.9, 0.95});
  REQUIRE(r.recipe.model.lora.has_value());
  REQUIRE(r.recipe.model.lora->rank == 8);
  REQUIRE(r.recipe.model.lora->alpha == Approx(32.0));
  auto msg = error_of([] { from_text(kMinimal, {"optimizer.lr"}); });
  REQUIRE_THAT(msg, Catch::Contains("expected key.path=value"));
}

TEST_CASE("set overrides index into the recipe's lists (data.sources[0].path), bounds and kinds checked") {
  auto r = from_text(kMinimal, {"data.sources[0].path=other.jsonl", "data.sources[0].weight=2"});
  REQUIRE(r.recipe.data.sources.size() == 1);
  REQUIRE(r.recipe.data.sources[0].path == "other.jsonl");
  REQUIRE(r.recipe.data.sources[0].weight == Approx(2.0));
  auto whole = from_text(kMinimal, {"data.sources[0]={path: x.jsonl, format: prompts}"});
  REQUIRE(whole.recipe.data.sources[0].format == pt::data::Format::Prompts);
  REQUIRE_THAT(error_of([] { from_text(kMinimal, {"data.sources[1].path=x"}); }),
               Catch::Contains("'sources' has 1 item(s); index 1 is out of range"));
  REQUIRE_THAT(error_of([] { from_text(kMinimal, {"data.eval_sources[0].path=x"}); }),
               Catch::Contains("'eval_sources' is not a list in the recipe"));
  REQUIRE_THAT(error_of([] { from_text(kMinimal, {"data.sources[a].path=x"}); }), Catch::Contains("expected key[index]"));
}

TEST_CASE("algorithm subsections are only allowed for the selected algorithm") {
  auto msg = error_of([] { from_text(std::string(kMinimal) + "algorithm: {name: sft, dpo: {beta: 0.2}}\n"); });
  REQUIRE_THAT(msg, Catch::Contains("'algorithm.dpo' is only allowed when algorithm.name is dpo"));
  auto r = from_text(R"(run: {name: t}
model: {path: m}
data: {seq_len: 64, sources: [{path: p.jsonl, format: preference}]}
trainer: {global_batch_tokens: 256}
algorithm: {name: dpo, dpo: {beta: 0.2}}
)");
  REQUIRE(r.recipe.algorithm.dpo.beta == Approx(0.2));
  REQUIRE(r.canonical_yaml.find("sft:") == std::string::npos);
  REQUIRE(r.canonical_yaml.find("dpo:") != std::string::npos);
}

TEST_CASE("cross-field validation") {
  auto msg = error_of([] { from_text(kMinimal, {"trainer.global_batch_tokens=100"}); });
  REQUIRE_THAT(msg, Catch::Contains("global_batch_tokens (100) must be a multiple of micro_batch_tokens (64)"));
  REQUIRE_THAT(msg, Catch::Contains("--set trainer.global_batch_tokens=100"));
  msg = error_of([] { from_text(kMinimal, {"parallel.data_parallel=3"}); });
  REQUIRE_THAT(msg, Catch::Contains("not divisible by parallel.data_parallel = 3"));
  msg = error_of([] { from_text(kMinimal, {"algorithm.name=dpo"}); });
  REQUIRE_THAT(msg, Catch::Contains("algorithm dpo needs preference data"));
  msg = error_of([] { from_text(kMinimal, {"trainer.max_steps=5", "schedule.warmup_steps=10"}); });
  REQUIRE_THAT(msg, Catch::Contains("warmup_steps (10) exceeds trainer.max_steps (5)"));
}

TEST_CASE("base inheritance deep-merges maps, replaces lists, resolves paths per file") {
  auto r = load_recipe(kAssets + "child.yaml");
  REQUIRE(r.recipe.run.name == "child-run");
  REQUIRE(r.recipe.run.seed == 7);                       // from base
  REQUIRE(r.recipe.optimizer.lr == Approx(1e-4));        // from base, map merged
  REQUIRE(r.recipe.optimizer.weight_decay == Approx(0.1));
  REQUIRE(r.recipe.optimizer.betas == std::vector<double>{0.8, 0.9});  // list replaced
  REQUIRE(r.recipe.schedule.name == pt::optim::ScheduleName::Linear);
  REQUIRE(r.files.size() == 2);
  // model.path was set in base.yaml, relative to base.yaml's directory.
  REQUIRE_THAT(r.recipe.model.path, Catch::EndsWith("tests/assets/models/llama"));
  REQUIRE_THAT(r.recipe.data.sources[0].path, Catch::EndsWith("tests/assets/data/chat.jsonl"));
}

TEST_CASE("base cycles and missing bases are errors") {
  auto msg = error_of([] { load_recipe(kAssets + "does-not-exist.yaml"); });
  REQUIRE_THAT(msg, Catch::Contains("does not exist"));
}

TEST_CASE("refusals inside lists name the list item's file:line and its index") {
  const std::string text = R"(run: {name: t}
model: {path: m}
algorithm: {name: dpo}
data:
  seq_len: 64
  sources:
    - {path: a.jsonl, format: preference}
    - {path: b.jsonl,
       format: chat}
  eval_sources:
    - {path: e.jsonl, format: preference, weight: 2}
trainer: {global_batch_tokens: 256}
)";
  auto msg = error_of([&] { from_text(text); });
  CHECK_THAT(msg, Catch::Contains("inline.yaml:9:") && Catch::Contains("(data.sources[1].format)") &&
                      Catch::Contains("needs preference data"));
  std::string fixed = text;
  fixed.replace(fixed.find("format: chat"), 12, "format: preference");
  msg = error_of([&] { from_text(fixed); });
  CHECK_THAT(msg, Catch::Contains("inline.yaml:11:") && Catch::Contains("(data.eval_sources[0].weight)"));
}

TEST_CASE("environment tools: JSON-schema parameters read as JSON, dumped back, refused where wrong") {
  const std::string text = R"(run: {name: t}
model: {path: m}
algorithm:
  name: grpo
  grpo:
    rewards: [{name: numeric}]
    environment:
      name: tools
      tools:
        - name: calculator
        - name: price
          description: The price of an item, in euros.
          command: python3 price.py
          parameters:
            type: object
            properties:
              item: {type: string, description: "the item", enum: [apple, "true", pear]}
              count: {type: integer, minimum: 1, default: 2, exact: true, scale: 1.5e-3}
            required: [item]
data:
  seq_len: 64
  packing: false
  sources: [{path: d.jsonl, format: prompts}]
trainer: {global_batch_tokens: 256}
)";
  auto r = from_text(text);
  const auto& tools = r.recipe.algorithm.grpo.environment.tools;
  REQUIRE(tools.size() == 2);
  const auto& p = tools[1].parameters.value;
  CHECK(p["type"] == "object");
  CHECK(p["properties"]["item"]["enum"] == nlohmann::ordered_json::parse(R"(["apple", "true", "pear"])"));
  CHECK(p["properties"]["count"]["minimum"] == 1);
  CHECK(p["properties"]["count"]["minimum"].is_number_integer());
  CHECK(p["properties"]["count"]["exact"] == true);
  CHECK(p["properties"]["count"]["scale"] == Approx(1.5e-3));
  CHECK(p["required"][0] == "item");
  CHECK(p.begin().key() == "type");  // declaration order kept (templates render it)
  CHECK(tools[0].parameters.value.is_null());
  auto again = from_tree(parse_yaml(r.canonical_yaml, "canonical.yaml"));
  CHECK(again.recipe.algorithm.grpo.environment.tools[1].parameters == tools[1].parameters);
  CHECK(again.hash == r.hash);

  auto refused = [&](const std::string& from, const std::string& to) {
    std::string t = text;
    REQUIRE(t.find(from) != std::string::npos);
    t.replace(t.find(from), from.size(), to);
    return error_of([&] { from_text(t); });
  };
  CHECK_THAT(refused("command: python3 price.py", "timeout_s: 3"),
             Catch::Contains("tools[1].command") && Catch::Contains("tool 'price' has no command and is not a built-in"));
  CHECK_THAT(refused("- name: calculator", "- {name: calculator, description: mine}"),
             Catch::Contains("tools[0].description") && Catch::Contains("built-in tool has its own"));
  CHECK_THAT(refused("type: object\n", "type: array\n"),
             Catch::Contains("tools[1].parameters") && Catch::Contains("JSON Schema of an object"));
  CHECK_THAT(refused("required: [item]", "required: item"), Catch::Contains("parameters.required must be a list"));
  CHECK_THAT(refused("- name: calculator", "- {name: price, command: x}"), Catch::Contains("tool 'price' is declared twice"));
  CHECK_THAT(refused("name: tools", "name: calculator"),
             Catch::Contains("environment.tools") && Catch::Contains("tools is only read by environment tools"));
  CHECK_THAT(refused("rewards: [{name: numeric}]", "rewards: []"),
             Catch::Contains("GRPO needs at least one reward") && Catch::Contains("environment 'tools' adds no reward"));
}
