#pragma once
// The typed recipe: the only place strings from YAML become types. Everything after parsing reads
// these structs. Sections are declared next to the code that consumes them (lib/<area>/options.h).
#include <string>
#include <vector>

#include "algo/options.h"
#include "data/options.h"
#include "model/options.h"
#include "optim/options.h"
#include "parallel/options.h"
#include "recipe/fields.h"
#include "tokenizer/options.h"
#include "train/options.h"

namespace pt::recipe {

struct RunOptions {
  std::string name;
  std::string output_dir = "runs";
  int64_t seed = 1234;
  template <class V>
  void visit(V& v) {
    v.field("name", name, Spec("run name; the run directory is output_dir/name").req());
    v.field("output_dir", output_dir, Spec("parent directory of run directories"));
    v.field("seed", seed, Spec("seed for data order, initialization, dropout and sampling").min(0));
  }
};

struct Recipe {
  RunOptions run;
  model::ModelOptions model;
  tok::TokenizerOptions tokenizer;
  data::DataOptions data;
  parallel::ParallelOptions parallel;
  algo::AlgorithmOptions algorithm;
  optim::OptimizerOptions optimizer;
  optim::ScheduleOptions schedule;
  train::TrainerOptions trainer;
  train::CheckpointOptions checkpoint;
  train::LoggingOptions logging;

  template <class V>
  void visit(V& v) {
    v.field("run", run, Spec("run identity").req());
    v.field("model", model, Spec("model to post-train").req());
    v.field("tokenizer", tokenizer, Spec("tokenizer and chat template"));
    v.field("data", data, Spec("data sources, mixture and packing"));
    v.field("parallel", parallel, Spec("devices and parallelism"));
    v.field("algorithm", algorithm, Spec("post-training algorithm"));
    v.field("optimizer", optimizer, Spec("optimizer"));
    v.field("schedule", schedule, Spec("learning-rate schedule"));
    v.field("trainer", trainer, Spec("training loop"));
    v.field("checkpoint", checkpoint, Spec("checkpointing"));
    v.field("logging", logging, Spec("logging and metric sinks"));
  }

  std::string run_dir() const { return run.output_dir + "/" + run.name; }
};

struct LoadedRecipe {
  Recipe recipe;
  Node resolved;              // canonical tree: every field, defaults filled in
  std::string canonical_yaml; // to_yaml(resolved)
  std::string hash;           // 16 hex digits of FNV-1a-64 over canonical_yaml
  std::vector<std::string> files;  // the recipe file and its bases, in load order
};

// Load `path` (following `base:` chains, deep-merged; lists replace), apply `--set` overrides,
// parse strictly, validate across fields. Relative paths inside a recipe (model.path, data paths)
// are resolved against the directory of the file that set them.
LoadedRecipe load_recipe(const std::string& path, const std::vector<std::string>& overrides = {});

// A recipe from a tree that is already merged (used for a run directory's resolved recipe).
LoadedRecipe from_tree(const Node& tree);

// Cross-field checks (batch divisible by data-parallel size, data format vs algorithm, ...).
// `source` is the merged input tree, used to point errors at the file:line that set a key.
void validate(const Recipe& r, const Node& source);

std::string content_hash(const std::string& text);

// JSON Schema of the whole recipe, draft-07.
std::string json_schema();

}  // namespace pt::recipe
