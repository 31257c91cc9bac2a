#pragma once
// The run's provenance record (provenance/store.h): what built the binary, where and how it runs,
// how it was launched, and a fingerprint of every input, so `posttrain diff` can say why two runs
// differ and `posttrain run --reproduce` can refuse a re-run that would not be the same run.
#include <future>
#include <optional>
#include <string>
#include <vector>

#include <ATen/Device.h>
#include <nlohmann/json.hpp>

#include "core/fingerprint.h"
#include "recipe/recipe.h"

namespace pt::train {

struct ProvenanceContext {
  const recipe::LoadedRecipe* recipe = nullptr;
  at::Device device = at::Device(at::kCPU);
  bool autocast_bf16 = false;
  std::string model_dtype;                  // of the weights, after dtype auto is resolved
  std::vector<std::string> argv;            // the command line
  std::vector<std::string> overrides;       // its --set assignments
  std::optional<std::string> resumed_from;  // checkpoint directory
};

// Everything but the inputs: event, time, build, libraries, environment, launch, command.
nlohmann::json provenance_settings(const ProvenanceContext& ctx);

// The recipe's inputs other than data shards (those are hashed while indexed: data::DataSet):
// model, tokenizer, reference, teacher and reward-model directories and files, and the executables
// and scripts of reward commands. Hashed on a thread of its own, overlapping model loading.
std::future<std::vector<InputFingerprint>> fingerprint_inputs_async(const recipe::Node& resolved);

// The files of one input path: a directory's regular files (not recursive), or the file itself.
InputFingerprint fingerprint_path(const std::string& role, const std::string& path);
// A shell command's executable (looked up on PATH) and every argument that names a file.
InputFingerprint fingerprint_command(const std::string& role, const std::string& command);

}  // namespace pt::train
