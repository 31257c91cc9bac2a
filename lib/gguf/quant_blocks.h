#pragma once
// Block decoders of ggml's low-bit types (ggml-quants.c's dequantize_row_*, one block each, same
// float arithmetic): Q2_K and Q3_K (2- and 3-bit K-quants with 4-/6-bit sub-block scales), IQ4_NL
// and IQ4_XS (4-bit indices into ggml's non-linear table kvalues_iq4nl).
#include <cstdint>

namespace pt::gguf {

float fp16_at(const uint8_t* p);  // a little-endian IEEE half, widened

void dequant_q2_k(const uint8_t* block, float* y);   // 256 values from 84 bytes
void dequant_q3_k(const uint8_t* block, float* y);   // 256 values from 110 bytes
void dequant_iq4_nl(const uint8_t* block, float* y); // 32 values from 18 bytes
void dequant_iq4_xs(const uint8_t* block, float* y); // 256 values from 136 bytes

}  // namespace pt::gguf
