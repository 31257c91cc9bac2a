#pragma once
// Differences between two provenance records (provenance/store.h), grouped the way a reviewer asks
// "why do these runs differ?": code and build, environment, launch, inputs. Each difference says
// whether it can change results: a host name, the command line (its overrides are already in the
// recipe), a file's time or place with the same content are shown but do not count.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pt::provenance {

struct Difference {
  std::string group;  // "code/build", "environment", "launch", "inputs"
  std::string key;    // "build.commit", "inputs data.sources[0].path: train.jsonl"
  std::string a, b;   // values ("" when absent on that side)
  bool counts = true; // can change results
  std::string note;   // why it does not count, or what changed ("content changed")
};

// In group order (code/build, environment, launch, inputs), each group in key order.
std::vector<Difference> compare(const nlohmann::json& a, const nlohmann::json& b);

// Only the differences that count.
size_t counting(const std::vector<Difference>& d);

//   code/build:
//     ~ build.commit: 1a2b3c4 -> 5d6e7f8
//     ~ environment.host: a -> b   (does not count: a host name)
std::string format(const std::vector<Difference>& d, bool color = false);

}  // namespace pt::provenance
