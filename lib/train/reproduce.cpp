#include "train/reproduce.h"

#include <filesystem>

#include "core/error.h"
#include "core/log.h"
#include "provenance/compare.h"
#include "provenance/store.h"
#include "recipe/node.h"
#include "recipe/resolved.h"

namespace pt::train {
namespace fs = std::filesystem;
using nlohmann::json;

recipe::LoadedRecipe reproduction_recipe(const std::string& run_dir) {
  const fs::path file = fs::path(run_dir) / recipe::kResolvedRecipeFile;
  if (!fs::exists(file)) fail("--reproduce {}: no {} there (not a run directory)", run_dir, recipe::kResolvedRecipeFile);
  if (!fs::exists(fs::path(run_dir) / provenance::kFile))
    fail("--reproduce {}: no {} there: the run was made by a posttrain without provenance records, so there is "
         "nothing to check a re-run against (run its recipe.yaml instead)", run_dir, provenance::kFile);
  recipe::Node tree = recipe::load_yaml_file(file.string());
  const recipe::LoadedRecipe original = recipe::from_tree(tree);
  const std::string base = original.recipe.run.name + "-reproduce";
  std::string name = base;
  for (int i = 2; fs::exists(fs::path(original.recipe.run.output_dir) / name); ++i) name = base + "-" + std::to_string(i);
  recipe::apply_override(tree, "run.name=" + name);
  recipe::LoadedRecipe r = recipe::from_tree(tree);
  r.files = {file.string()};
  return r;
}

void check_reproduction(const std::string& run_dir, const json& current, bool inputs, bool force) {
  const auto recorded = provenance::read((fs::path(run_dir) / provenance::kFile).string());
  if (recorded.empty()) fail("--reproduce {}: {} holds no record", run_dir, provenance::kFile);
  std::string report;
  for (size_t i = 0; i < recorded.size(); ++i) {
    json a = recorded[i], b = current;
    if (!inputs) a.erase("inputs"), b.erase("inputs");
    else a = json{{"inputs", a.value("inputs", json::array())}}, b = json{{"inputs", b.value("inputs", json::array())}};
    std::vector<provenance::Difference> counting;
    for (const auto& d : provenance::compare(a, b))
      if (d.counts) counting.push_back(d);
    if (counting.empty()) continue;
    report += i == 0 ? fmt::format("against the run's start ({}):\n", recorded[i].value("time", "?"))
                     : fmt::format("against its resume from {}:\n", recorded[i].value("resumed_from", "?"));
    report += provenance::format(counting);
  }
  if (report.empty()) {
    log::info("--reproduce {}: {} match the recorded run", run_dir, inputs ? "inputs" : "build, environment and launch");
    return;
  }
  if (!force)
    fail("--reproduce {}: this would not be the same run (A = recorded, B = now):\n{}(--force re-runs anyway)", run_dir,
         report);
  log::warn("--reproduce {} with differences (--force):\n{}", run_dir, report);
}

}  // namespace pt::train
