#include "gguf/writer.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <c10/util/Half.h>

#include "core/error.h"

namespace pt::gguf {

namespace {
enum ValueType : uint32_t { kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7, kString = 8, kArray = 9, kU64 = 10 };
constexpr uint64_t kAlignment = 32;

template <class T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(T));
}
void put_string(std::string& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out += s;
}
}  // namespace

const char* type_name(TensorType t) {
  switch (t) {
    case TensorType::F32: return "f32";
    case TensorType::F16: return "f16";
    case TensorType::Q8_0: return "q8_0";
    case TensorType::BF16: return "bf16";
  }
  return "?";
}

void Writer::add(const std::string& key, const std::string& v) {
  put_string(kv_, key), put<uint32_t>(kv_, kString), put_string(kv_, v), ++kv_count_;
}
void Writer::add(const std::string& key, uint32_t v) { put_string(kv_, key), put<uint32_t>(kv_, kU32), put(kv_, v), ++kv_count_; }
void Writer::add(const std::string& key, int32_t v) { put_string(kv_, key), put<uint32_t>(kv_, kI32), put(kv_, v), ++kv_count_; }
void Writer::add(const std::string& key, float v) { put_string(kv_, key), put<uint32_t>(kv_, kF32), put(kv_, v), ++kv_count_; }
void Writer::add(const std::string& key, bool v) {
  put_string(kv_, key), put<uint32_t>(kv_, kBool), put<uint8_t>(kv_, v ? 1 : 0), ++kv_count_;
}
void Writer::add(const std::string& key, const std::vector<std::string>& v) {
  put_string(kv_, key), put<uint32_t>(kv_, kArray), put<uint32_t>(kv_, kString), put<uint64_t>(kv_, v.size());
  for (const auto& s : v) put_string(kv_, s);
  ++kv_count_;
}
void Writer::add(const std::string& key, const std::vector<int32_t>& v) {
  put_string(kv_, key), put<uint32_t>(kv_, kArray), put<uint32_t>(kv_, kI32), put<uint64_t>(kv_, v.size());
  for (int32_t x : v) put(kv_, x);
  ++kv_count_;
}
void Writer::add(const std::string& key, const std::vector<float>& v) {
  put_string(kv_, key), put<uint32_t>(kv_, kArray), put<uint32_t>(kv_, kF32), put<uint64_t>(kv_, v.size());
  for (float x : v) put(kv_, x);
  ++kv_count_;
}

std::string quantize_q8_0(const at::Tensor& t) {
  const at::Tensor x = t.to(at::kFloat).contiguous();
  PT_CHECK(x.numel() % 32 == 0 && x.size(-1) % 32 == 0, "q8_0: last dimension {} is not a multiple of 32", x.size(-1));
  const float* p = x.data_ptr<float>();
  std::string out;
  out.reserve(static_cast<size_t>(x.numel() / 32 * 34));
  for (int64_t b = 0; b < x.numel() / 32; ++b) {
    const float* v = p + b * 32;
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(v[i]));
    const float d = amax / 127.f;
    const float id = d > 0 ? 1.f / d : 0.f;
    put<uint16_t>(out, c10::Half(d).x);
    for (int i = 0; i < 32; ++i) put<int8_t>(out, static_cast<int8_t>(std::lround(v[i] * id)));
  }
  return out;
}

void Writer::add_tensor(const std::string& name, const at::Tensor& t, TensorType type) {
  add_tensor(name, t.sizes().vec(), type, [t] { return t; });
}

void Writer::add_tensor(const std::string& name, std::vector<int64_t> shape, TensorType type,
                        std::function<at::Tensor()> load) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  if (type == TensorType::Q8_0 && (shape.empty() || shape.back() % 32 != 0))
    fail("GGUF: tensor '{}' rows of {} are not a multiple of 32 (q8_0 blocks)", name, shape.empty() ? 0 : shape.back());
  const uint64_t bytes = type == TensorType::Q8_0 ? static_cast<uint64_t>(n / 32 * 34)
                                                  : static_cast<uint64_t>(n) * (type == TensorType::F32 ? 4 : 2);
  tensors_.push_back({name, std::move(shape), type, std::move(load), bytes});
}

namespace {
std::string encode(const at::Tensor& t, TensorType type) {
  auto raw = [](const at::Tensor& c) {
    return std::string(static_cast<const char*>(c.data_ptr()), static_cast<size_t>(c.numel() * c.element_size()));
  };
  switch (type) {
    case TensorType::F32: return raw(t.to(at::kFloat).contiguous());
    case TensorType::F16: return raw(t.to(at::kHalf).contiguous());
    case TensorType::BF16: return raw(t.to(at::kBFloat16).contiguous());
    case TensorType::Q8_0: return quantize_q8_0(t);
  }
  return {};
}
}  // namespace

void Writer::write(const std::string& path) const {
  std::string head;
  head += "GGUF";
  put<uint32_t>(head, 3);
  put<uint64_t>(head, tensors_.size());
  put<uint64_t>(head, kv_count_);
  head += kv_;
  uint64_t offset = 0;
  std::vector<uint64_t> offsets;
  for (const auto& t : tensors_) {
    put_string(head, t.name);
    put<uint32_t>(head, static_cast<uint32_t>(t.shape.size()));
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) put<uint64_t>(head, static_cast<uint64_t>(*it));
    put<uint32_t>(head, static_cast<uint32_t>(t.type));
    put<uint64_t>(head, offset);
    offsets.push_back(offset);
    offset += (t.bytes + kAlignment - 1) / kAlignment * kAlignment;
  }
  head.append((kAlignment - head.size() % kAlignment) % kAlignment, '\0');
  const std::string tmp = path + ".tmp";
  try {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("{}: cannot open for writing", tmp);
    out.write(head.data(), static_cast<std::streamsize>(head.size()));
    for (const auto& t : tensors_) {
      const at::Tensor x = t.load();
      if (x.sizes().vec() != t.shape)
        fail("GGUF: tensor '{}' was declared [{}] but is [{}]", t.name, fmt::join(t.shape, ", "), fmt::join(x.sizes(), ", "));
      const std::string bytes = encode(x, t.type);
      PT_CHECK(bytes.size() == t.bytes, "GGUF: tensor '{}' encoded to {} bytes, {} expected", t.name, bytes.size(), t.bytes);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      const std::string pad((kAlignment - bytes.size() % kAlignment) % kAlignment, '\0');
      out.write(pad.data(), static_cast<std::streamsize>(pad.size()));
    }
    if (!out) fail("{}: writing failed (disk full?)", tmp);
  } catch (...) {  // a tensor that failed to load or encode: no partial file is left
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw;
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace pt::gguf
