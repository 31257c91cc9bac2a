#pragma once
// Reference tensors from a script under tests/reference/ (TRL's or verl's own code in the test venv):
// the script writes a safetensors file, the test reads each tensor by name (missing = a failure).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <memory>
#include <string>

#include "../temp_dir.h"
#include "model/safetensors.h"

namespace pt::testing {

class PythonReference {
 public:
  explicit PythonReference(const std::string& script) {
    const std::string out = dir_.path + "/reference.safetensors";
    const std::string cmd = std::string("TRL_EXPERIMENTAL_SILENCE=1 ") + PT_PYTHON + " " + PT_SOURCE_DIR +
                            "/tests/reference/" + script + " " + out + " >/dev/null";
    INFO(cmd);
    REQUIRE(std::system(cmd.c_str()) == 0);
    file_ = std::make_unique<model::SafetensorsFile>(out);
  }
  // Where the script ran (its output and anything it wrote beside it).
  const std::string& dir() const { return dir_.path; }
  at::Tensor operator[](const std::string& key) const {
    INFO("reference tensor " << key);
    REQUIRE(file_->contains(key));
    return file_->view(key).clone();
  }

 private:
  TempDir dir_;
  std::unique_ptr<model::SafetensorsFile> file_;
};

}  // namespace pt::testing
