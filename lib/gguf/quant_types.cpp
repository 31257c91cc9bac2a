#include "gguf/quant_types.h"

#include <array>
#include <cstring>

#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include "core/error.h"
#include "gguf/quant_blocks.h"

namespace pt::gguf {

namespace {

// ggml.h's enum ggml_type, with ggml.c's block sizes; ids 4, 5 and 31-33 were removed upstream.
const std::array<QuantType, 40>& table() {
  static const std::array<QuantType, 40> t = [] {
    std::array<QuantType, 40> a{};
    auto set = [&](uint32_t id, const char* name, int64_t block, int64_t bytes, bool readable) {
      a[id] = {name, block, bytes, readable};
    };
    set(0, "F32", 1, 4, true), set(1, "F16", 1, 2, true), set(2, "Q4_0", 32, 18, true), set(3, "Q4_1", 32, 20, true);
    set(6, "Q5_0", 32, 22, true), set(7, "Q5_1", 32, 24, true), set(8, "Q8_0", 32, 34, true);
    set(9, "Q8_1", 32, 36, false), set(10, "Q2_K", 256, 84, true), set(11, "Q3_K", 256, 110, true);
    set(12, "Q4_K", 256, 144, true), set(13, "Q5_K", 256, 176, true), set(14, "Q6_K", 256, 210, true);
    set(15, "Q8_K", 256, 292, false), set(16, "IQ2_XXS", 256, 66, false), set(17, "IQ2_XS", 256, 74, false);
    set(18, "IQ3_XXS", 256, 98, false), set(19, "IQ1_S", 256, 50, false), set(20, "IQ4_NL", 32, 18, true);
    set(21, "IQ3_S", 256, 110, false), set(22, "IQ2_S", 256, 82, false), set(23, "IQ4_XS", 256, 136, true);
    set(24, "I8", 1, 1, false), set(25, "I16", 1, 2, false), set(26, "I32", 1, 4, false), set(27, "I64", 1, 8, false);
    set(28, "F64", 1, 8, false), set(29, "IQ1_M", 256, 56, false), set(30, "BF16", 1, 2, true);
    set(34, "TQ1_0", 256, 54, false), set(35, "TQ2_0", 256, 66, false), set(39, "MXFP4", 32, 17, false);
    return a;
  }();
  return t;
}

void q8_0(const uint8_t* b, float* y) {
  const float d = fp16_at(b);
  for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(static_cast<int8_t>(b[2 + j])) * d;
}

void q4_0(const uint8_t* b, float* y) {
  const float d = fp16_at(b);
  for (int j = 0; j < 16; ++j) {
    y[j] = static_cast<float>((b[2 + j] & 0xF) - 8) * d;
    y[j + 16] = static_cast<float>((b[2 + j] >> 4) - 8) * d;
  }
}

void q4_1(const uint8_t* b, float* y) {
  const float d = fp16_at(b), m = fp16_at(b + 2);
  for (int j = 0; j < 16; ++j) {
    y[j] = static_cast<float>(b[4 + j] & 0xF) * d + m;
    y[j + 16] = static_cast<float>(b[4 + j] >> 4) * d + m;
  }
}

// Q5_0 (no min) and Q5_1: 4-bit values with their fifth bits packed in a 32-bit word.
void q5(const uint8_t* b, float* y, bool with_min) {
  const float d = fp16_at(b), m = with_min ? fp16_at(b + 2) : 0.0f;
  const uint8_t* p = b + (with_min ? 4 : 2);
  uint32_t qh;
  std::memcpy(&qh, p, 4);
  const uint8_t* qs = p + 4;
  const int offset = with_min ? 0 : 16;
  for (int j = 0; j < 16; ++j) {
    const int h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
    const float x0 = static_cast<float>(((qs[j] & 0xF) | h0) - offset), x1 = static_cast<float>(((qs[j] >> 4) | h1) - offset);
    y[j] = with_min ? x0 * d + m : x0 * d;
    y[j + 16] = with_min ? x1 * d + m : x1 * d;
  }
}

// The 6-bit scale and min of sub-block j of a Q4_K/Q5_K block (ggml's get_scale_min_k4).
void scale_min_k4(int j, const uint8_t* q, int& sc, int& m) {
  if (j < 4) {
    sc = q[j] & 63, m = q[j + 4] & 63;
  } else {
    sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// Q4_K (qh == nullptr) and Q5_K: 8 sub-blocks of 32 with 6-bit scales and mins.
void q45_k(const uint8_t* b, float* y, bool five) {
  const float d = fp16_at(b), dmin = fp16_at(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* qh = five ? b + 16 : nullptr;
  const uint8_t* ql = five ? b + 48 : b + 16;
  uint8_t u1 = 1, u2 = 2;
  for (int j = 0, is = 0; j < 256; j += 64, is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
    int sc, m;
    scale_min_k4(is, scales, sc, m);
    const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
    scale_min_k4(is + 1, scales, sc, m);
    const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
    for (int l = 0; l < 32; ++l) {
      const int hi1 = qh && (qh[l] & u1) ? 16 : 0, hi2 = qh && (qh[l] & u2) ? 16 : 0;
      *y++ = d1 * static_cast<float>((ql[l] & 0xF) + hi1) - m1;
      y[31] = d2 * static_cast<float>((ql[l] >> 4) + hi2) - m2;
    }
    y += 32;
  }
}

void q6_k(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
  const float d = fp16_at(b + 208);
  for (int n = 0; n < 256; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
      y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
      y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
      y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
    }
  }
}

}  // namespace

QuantType quant_type(uint32_t id) { return id < table().size() ? table()[id] : QuantType{nullptr}; }

std::string quant_type_name(uint32_t id) {
  const QuantType q = quant_type(id);
  return q.name ? q.name : "type " + std::to_string(id);
}

uint64_t tensor_bytes(uint32_t id, int64_t numel, const std::string& what) {
  const QuantType q = quant_type(id);
  if (!q.name) fail("{}: ggml type {} is not one ggml defines", what, id);
  if (numel % q.block != 0)
    fail("{}: {} values are not a whole number of {} blocks of {}", what, numel, q.name, q.block);
  return static_cast<uint64_t>(numel / q.block * q.block_bytes);
}

at::Tensor dequantize(const uint8_t* data, uint32_t id, int64_t numel, const std::string& what) {
  const QuantType q = quant_type(id);
  if (!q.readable)
    fail("{}: tensors of type {} are not read (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, "
         "IQ4_NL and IQ4_XS are)", what,
         quant_type_name(id));
  at::Tensor out = at::empty({numel}, at::kFloat);
  float* y = out.data_ptr<float>();
  if (id == 0) {
    std::memcpy(y, data, static_cast<size_t>(numel) * 4);
  } else if (id == 1 || id == 30) {
    // Widened exactly (fp16 and bf16 are subsets of fp32).
    for (int64_t i = 0; i < numel; ++i) {
      uint16_t bits;
      std::memcpy(&bits, data + 2 * i, 2);
      y[i] = id == 1 ? static_cast<float>(c10::Half(bits, c10::Half::from_bits()))
                     : static_cast<float>(c10::BFloat16(bits, c10::BFloat16::from_bits()));
    }
  } else {
    const int64_t blocks = numel / q.block;
    at::parallel_for(0, blocks, 1024, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const uint8_t* blk = data + b * q.block_bytes;
        float* dst = y + b * q.block;
        switch (id) {
          case 2: q4_0(blk, dst); break;
          case 3: q4_1(blk, dst); break;
          case 6: q5(blk, dst, false); break;
          case 7: q5(blk, dst, true); break;
          case 8: q8_0(blk, dst); break;
          case 12: q45_k(blk, dst, false); break;
          case 13: q45_k(blk, dst, true); break;
          case 14: q6_k(blk, dst); break;
          case 10: dequant_q2_k(blk, dst); break;
          case 11: dequant_q3_k(blk, dst); break;
          case 20: dequant_iq4_nl(blk, dst); break;
          case 23: dequant_iq4_xs(blk, dst); break;
        }
      }
    });
  }
  return out;
}

}  // namespace pt::gguf
