// The run's non-data inputs (train/provenance.h): a directory's files (safetensors with their header
// hash), a command's executable found on PATH and the script it runs, one hash per directory read.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "../temp_dir.h"
#include "recipe/node.h"
#include "train/provenance.h"

using namespace pt;

TEST_CASE("provenance inputs: directories, commands, and a directory named twice", "[provenance]") {
  pt::testing::TempDir t;
  t.write("model/config.json", {"{}"});
  t.write("model/.hidden", {"x"});
  t.write("model/sub/ignored.json", {"{}"});
  const std::string header = "{}";
  std::ofstream(t.path + "/model/model.safetensors", std::ios::binary)
      << std::string("\x02\0\0\0\0\0\0\0", 8) << header;
  const std::string script = t.write("score.py", {"print(1)"});

  const auto dir = train::fingerprint_path("model.path", t.path + "/model");
  REQUIRE(dir.files.size() == 2);  // regular, visible, top-level files only
  CHECK(dir.files[0].name == "config.json");
  CHECK(dir.files[1].name == "model.safetensors");
  CHECK(dir.files[1].header_hash != "");
  CHECK(dir.files[1].hash == fingerprint_file(t.path + "/model/model.safetensors", "").hash);

  const auto cmd = train::fingerprint_command("algorithm.grpo.rewards[0].command", "sh '" + script + "' --n 3");
  REQUIRE(cmd.files.size() == 2);
  CHECK(cmd.files[0].name == "sh");  // looked up on PATH
  CHECK(cmd.files[0].hash != "");
  CHECK(cmd.files[1].path == script);

  recipe::Node tree = recipe::Node::make_map();
  recipe::apply_override(tree, "model.path=" + t.path + "/model");
  recipe::apply_override(tree, "tokenizer.path=" + t.path + "/model/");
  recipe::apply_override(tree, "data.sources=[{path: " + t.path + "/data.jsonl}]");
  const auto inputs = train::fingerprint_inputs_async(tree).get();
  REQUIRE(inputs.size() == 2);  // data sources are hashed by the data set while it indexes them
  CHECK(inputs[0].role == "model.path");
  CHECK(inputs[1].role == "tokenizer.path");
  CHECK(inputs[1].path == t.path + "/model/");
  CHECK(inputs[1].files.size() == 2);
  CHECK(inputs[1].files[1].hash == inputs[0].files[1].hash);
}
