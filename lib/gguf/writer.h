#pragma once
// GGUF v3 files (llama.cpp's model format): typed key/value metadata, then tensor infos, then the
// 32-byte-aligned tensor data. Dimensions are written innermost first (ggml's ne[0] = the last
// torch dimension). Tensors are F32, F16, BF16 or Q8_0 (blocks of 32 values: an fp16 scale d =
// max|x| / 127 and 32 int8 round(x / d)).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <ATen/ATen.h>

namespace pt::gguf {

enum class TensorType : uint32_t { F32 = 0, F16 = 1, Q8_0 = 8, BF16 = 30 };
const char* type_name(TensorType t);

class Writer {
 public:
  void add(const std::string& key, const std::string& v);
  void add(const std::string& key, uint32_t v);
  void add(const std::string& key, int32_t v);
  void add(const std::string& key, float v);
  void add(const std::string& key, bool v);
  void add(const std::string& key, const std::vector<std::string>& v);
  void add(const std::string& key, const std::vector<int32_t>& v);
  void add(const std::string& key, const std::vector<float>& v);
  // `t` (any float dtype, CPU) stored as `type`; Q8_0 needs rows divisible by 32.
  void add_tensor(const std::string& name, const at::Tensor& t, TensorType type);
  // The same, made by `load` only when write() reaches it, so a conversion holds one tensor at a
  // time, not the model; `load` must give a tensor of `shape`.
  void add_tensor(const std::string& name, std::vector<int64_t> shape, TensorType type,
                  std::function<at::Tensor()> load);
  // Written to path + ".tmp" and renamed when complete.
  void write(const std::string& path) const;

 private:
  struct Tensor {
    std::string name;
    std::vector<int64_t> shape;
    TensorType type;
    std::function<at::Tensor()> load;
    uint64_t bytes;  // of the encoded data
  };
  std::string kv_;  // encoded key/value pairs
  uint64_t kv_count_ = 0;
  std::vector<Tensor> tensors_;
};

// Q8_0 encoding of a float tensor whose last dimension is a multiple of 32 (exposed for tests).
std::string quantize_q8_0(const at::Tensor& t);

}  // namespace pt::gguf
