// libFuzzer: arbitrary bytes as a safetensors file. Any input must give a pt::Error or a header
// whose every tensor range lies inside the buffer (ASan checks the reads below).
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    uint64_t start = 0;
    auto tensors = pt::model::SafetensorsFile::parse_header(data, size, "fuzz", nullptr, &start);
    volatile uint8_t sink = 0;
    for (const auto& t : tensors)
      for (uint64_t i = t.begin; i < t.end; i += 61) sink ^= data[start + i];
    (void)sink;
  } catch (const pt::Error&) {
  }
  return 0;
}
