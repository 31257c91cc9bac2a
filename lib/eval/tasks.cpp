#include "eval/tasks.h"

#include <filesystem>

#include <fmt/format.h>

#include "core/error.h"
#include "recipe/environment_checks.h"
#include "recipe/fields.h"
#include "recipe/node.h"

namespace pt::eval {
namespace fs = std::filesystem;

EvalTasks load_tasks(const std::string& file) {
  if (!fs::exists(file)) fail("--tasks {}: no such file", file);
  const recipe::Node doc = recipe::load_yaml_file(file);
  if (!doc.is_map()) fail_at(Location{file, 1, 1, ""}, "a task file is a mapping with a 'tasks' list");
  EvalTasks t;
  recipe::Parser::read(doc, "", t, recipe::Spec("task file"));
  if (t.tasks.empty()) fail_at(Location{file, 1, 1, "tasks"}, "no tasks");
  const fs::path dir = fs::path(file).parent_path();
  for (size_t i = 0; i < t.tasks.size(); ++i) {
    auto& task = t.tasks[i];
    const Location loc = doc.find("tasks")->seq[i].loc;
    recipe::check_environment(task.environment, [&](const std::vector<std::string>& keys, const std::string& why) {
      std::string key = fmt::format("tasks[{}].environment", i);
      for (const auto& k : keys) key += (k.find_first_not_of("0123456789") == std::string::npos ? "[" + k + "]" : "." + k);
      fail_at(loc, "task '{}': {}: {}", task.name, key, why);
    });
    const std::string& env = task.environment.name;
    if (task.scorers.empty() && (env == "single_turn" || env == "tools"))
      fail_at(loc, "task '{}' has no scorers (e.g. scorers: [{{name: exact_match}}]){}", task.name,
              env == "tools" ? "; environment 'tools' adds no reward of its own" : "");
    for (int k : task.pass_k)
      if (k > task.samples)
        fail_at(loc, "task '{}': pass_k {} needs at least {} samples per prompt (samples is {})", task.name, k, k,
                task.samples);
    if (task.samples > 1 && task.temperature == 0)
      fail_at(loc, "task '{}': {} greedy samples per prompt would all be the same; set temperature > 0", task.name,
              task.samples);
    if (fs::path(task.path).is_relative()) task.path = (dir / task.path).lexically_normal().string();
  }
  return t;
}

}  // namespace pt::eval
