#include "gguf/reader.h"

#include <cstring>
#include <limits>

#include "core/error.h"
#include "gguf/quant_types.h"

namespace pt::gguf {
using nlohmann::json;

namespace {

enum ValueType : uint32_t { kU8, kI8, kU16, kI16, kU32, kI32, kF32, kBool, kString, kArray, kU64, kI64, kF64 };
constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
// Bounds on counts read from the file, so a corrupt count fails cleanly instead of allocating.
constexpr uint64_t kMaxDims = 4;

// A cursor over the mapped bytes: every read checks the remaining length and names what it read.
class Cursor {
 public:
  Cursor(const uint8_t* p, size_t size, const std::string& path) : p_(p), size_(size), path_(path) {}
  template <class T>
  T get(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string string(const std::string& what) {
    const uint64_t n = get<uint64_t>(what + " (length)");
    need(n, what);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), n);
    pos_ += n;
    return s;
  }
  void need(uint64_t n, const std::string& what) const {
    if (n > size_ - pos_)
      fail("{}: truncated or corrupt GGUF: {} needs {} bytes at offset {} but the file has {} bytes", path_, what, n,
           pos_, size_);
  }
  size_t pos() const { return pos_; }
  const std::string& path() const { return path_; }

 private:
  const uint8_t* p_;
  size_t size_, pos_ = 0;
  const std::string& path_;
};

json scalar(Cursor& c, uint32_t type, const std::string& what) {
  switch (type) {
    case kU8: return c.get<uint8_t>(what);
    case kI8: return c.get<int8_t>(what);
    case kU16: return c.get<uint16_t>(what);
    case kI16: return c.get<int16_t>(what);
    case kU32: return c.get<uint32_t>(what);
    case kI32: return c.get<int32_t>(what);
    // A float32 as the shortest decimal that reads back as it (1e-05, not 9.999999747378752e-06).
    case kF32: return std::stod(fmt::format("{}", c.get<float>(what)));
    case kBool: return c.get<uint8_t>(what) != 0;
    case kString: return c.string(what);
    case kU64: return c.get<uint64_t>(what);
    case kI64: return c.get<int64_t>(what);
    case kF64: return c.get<double>(what);
  }
  fail("{}: corrupt GGUF: {} has value type {} (expected 0-12)", c.path(), what, type);
}

json value(Cursor& c, uint32_t type, const std::string& what) {
  if (type != kArray) return scalar(c, type, what);
  const uint32_t item = c.get<uint32_t>(what + " (array type)");
  const uint64_t n = c.get<uint64_t>(what + " (array length)");
  if (item == kArray) fail("{}: {}: nested arrays are not supported", c.path(), what);
  c.need(n, what);  // every item takes at least one byte: a corrupt count fails here
  json a = json::array();
  for (uint64_t i = 0; i < n; ++i) a.push_back(scalar(c, item, what));
  return a;
}

}  // namespace

int64_t TensorEntry::numel() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

Reader::Reader(const std::string& path) : path_(path), file_(path) { parse(file_.data(), file_.size()); }

void Reader::release(const TensorEntry& t) const {
  const uint64_t begin = data_start_ + t.offset;
  file_.release(begin, begin + tensor_bytes(t.type, t.numel(), t.name));
}

void Reader::parse(const uint8_t* p, size_t size) {
  Cursor c(p, size, path_);
  if (c.get<uint32_t>("the magic number") != kMagic) fail("{}: not a GGUF file (no 'GGUF' magic number)", path_);
  version_ = c.get<uint32_t>("the version");
  if (version_ < 2 || version_ > 3) fail("{}: GGUF version {} is not supported (versions 2 and 3 are)", path_, version_);
  const uint64_t n_tensors = c.get<uint64_t>("the tensor count");
  const uint64_t n_kv = c.get<uint64_t>("the metadata count");
  for (uint64_t i = 0; i < n_kv; ++i) {
    const std::string key = c.string(fmt::format("metadata key #{}", i));
    const uint32_t type = c.get<uint32_t>("metadata '" + key + "' (type)");
    meta_[key] = value(c, type, "metadata '" + key + "'");
  }
  c.need(n_tensors, "the tensor directory");
  for (uint64_t i = 0; i < n_tensors; ++i) {
    TensorEntry t;
    t.name = c.string(fmt::format("tensor #{} (name)", i));
    const std::string what = "tensor '" + t.name + "'";
    const uint32_t nd = c.get<uint32_t>(what + " (dimensions)");
    if (nd == 0 || nd > kMaxDims) fail("{}: corrupt GGUF: {} has {} dimensions (1-{} expected)", path_, what, nd, kMaxDims);
    for (uint32_t d = 0; d < nd; ++d) {
      const uint64_t v = c.get<uint64_t>(what + " (shape)");
      if (v == 0 || v > (1ull << 40)) fail("{}: corrupt GGUF: {} has dimension {}", path_, what, v);
      t.dims.push_back(static_cast<int64_t>(v));
    }
    t.type = c.get<uint32_t>(what + " (type)");
    t.offset = c.get<uint64_t>(what + " (offset)");
    if (quant_type(t.type).name == nullptr)
      fail("{}: {} has ggml type {}, which ggml does not define", path_, what, t.type);
    t.bytes = tensor_bytes(t.type, t.numel(), path_ + ": " + what);
    tensors_.push_back(std::move(t));
  }
  uint64_t align = 32;
  if (has("general.alignment")) {
    const json& a = meta_["general.alignment"];
    if (!a.is_number_unsigned() || a.get<uint64_t>() == 0 || (a.get<uint64_t>() & (a.get<uint64_t>() - 1)))
      fail("{}: general.alignment must be a power of two, got {}", path_, a.dump());
    align = a.get<uint64_t>();
  }
  data_start_ = (c.pos() + align - 1) / align * align;
  for (const auto& t : tensors_) {
    if (t.offset % align != 0) fail("{}: tensor '{}' starts at offset {}, not a multiple of {}", path_, t.name, t.offset, align);
    if (data_start_ > size || t.offset > size - data_start_ || t.bytes > size - data_start_ - t.offset)
      fail("{}: truncated GGUF: tensor '{}' ({} bytes at data offset {}) runs past the end of the file ({} bytes)", path_,
           t.name, t.bytes, t.offset, size);
  }
}

const json& Reader::at(const std::string& key) const {
  auto it = meta_.find(key);
  if (it == meta_.end()) fail("{}: GGUF metadata has no '{}'", path_, key);
  return it->second;
}

const TensorEntry* Reader::find(const std::string& name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

}  // namespace pt::gguf
