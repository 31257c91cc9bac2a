#pragma once
// ggml's tensor types: each one's name, block size and bytes per block, and dequantization of the
// ones we read (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K..Q6_K, IQ4_NL, IQ4_XS) to float32 with ggml's own
// arithmetic (fp16 scales widened to float, then d * q - m per value), so a dequantized weight is
// the number llama.cpp computes with.
#include <cstdint>
#include <string>

#include <ATen/ATen.h>

namespace pt::gguf {

struct QuantType {
  const char* name;       // llama.cpp's spelling: "Q4_K", "IQ2_XXS", ...
  int64_t block = 1;      // values per block
  int64_t block_bytes = 0;
  bool readable = false;  // dequantized by `dequantize`
};

// The type with ggml id `id`; an id ggml does not define has name nullptr.
QuantType quant_type(uint32_t id);
std::string quant_type_name(uint32_t id);  // "Q4_K", or "type 77" for an unknown id

// Bytes `numel` values of type `id` take; fails when numel is not a whole number of blocks.
uint64_t tensor_bytes(uint32_t id, int64_t numel, const std::string& what);

// `numel` values of type `id` starting at `data` as a float32 tensor (1-D). Fails naming `what`
// and the type for a type that is not readable.
at::Tensor dequantize(const uint8_t* data, uint32_t id, int64_t numel, const std::string& what);

}  // namespace pt::gguf
