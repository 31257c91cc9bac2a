#include "model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace fs = std::filesystem;

namespace pt::model {

namespace {

constexpr uint64_t kMaxHeader = 100ull << 20;  // the reference implementation's limit

at::ScalarType parse_dtype(const std::string& s, const std::string& origin, const std::string& name) {
  if (s == "F32") return at::kFloat;
  if (s == "BF16") return at::kBFloat16;
  if (s == "F16") return at::kHalf;
  if (s == "F64") return at::kDouble;
  if (s == "I64") return at::kLong;
  if (s == "I32") return at::kInt;
  if (s == "I16") return at::kShort;
  if (s == "I8") return at::kChar;
  if (s == "U8") return at::kByte;
  if (s == "BOOL") return at::kBool;
  fail("{}: tensor '{}' has unsupported dtype '{}' (expected F32, BF16, F16, F64, I64, I32, I16, I8, U8, BOOL)",
       origin, name, s);
}

}  // namespace

const char* safetensors_dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "F32";
    case at::kBFloat16: return "BF16";
    case at::kHalf: return "F16";
    case at::kDouble: return "F64";
    case at::kLong: return "I64";
    case at::kInt: return "I32";
    case at::kShort: return "I16";
    case at::kChar: return "I8";
    case at::kByte: return "U8";
    case at::kBool: return "BOOL";
    default: fail("dtype {} cannot be stored in safetensors", c10::toString(t));
  }
}

std::vector<TensorInfo> SafetensorsFile::parse_header(const uint8_t* data, size_t size, const std::string& origin,
                                                      std::map<std::string, std::string>* metadata,
                                                      uint64_t* data_start) {
  if (size < 8) fail("{}: not a safetensors file (only {} bytes)", origin, size);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | data[i];
  if (n > kMaxHeader) fail("{}: header length {} exceeds the 100 MiB limit (corrupted file?)", origin, n);
  if (n > size - 8) fail("{}: header length {} runs past the end of the {}-byte file (truncated?)", origin, n, size);
  nlohmann::json h;
  try {
    h = nlohmann::json::parse(data + 8, data + 8 + n);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: header is not valid JSON: {}", origin, e.what());
  }
  if (!h.is_object()) fail("{}: header must be a JSON object", origin);
  uint64_t data_size = size - 8 - n;
  std::vector<TensorInfo> out;
  for (auto it = h.begin(); it != h.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) fail("{}: __metadata__ must be an object of strings", origin);
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) fail("{}: __metadata__.{} must be a string", origin, m.key());
        if (metadata) (*metadata)[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets") ||
        !v["dtype"].is_string() || !v["shape"].is_array() || !v["data_offsets"].is_array() ||
        v["data_offsets"].size() != 2)
      fail("{}: tensor '{}' needs dtype (string), shape (list) and data_offsets ([begin, end])", origin, name);
    TensorInfo t;
    t.name = name;
    t.dtype = parse_dtype(v["dtype"].get<std::string>(), origin, name);
    uint64_t numel = 1;
    for (const auto& d : v["shape"]) {
      if (!d.is_number_unsigned()) fail("{}: tensor '{}' has a non-integer or negative dimension", origin, name);
      uint64_t dim = d.get<uint64_t>();
      if (dim != 0 && numel > (UINT64_MAX / 16) / dim) fail("{}: tensor '{}' shape overflows", origin, name);
      numel *= dim;
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    for (const auto& o : v["data_offsets"])
      if (!o.is_number_unsigned()) fail("{}: tensor '{}' has non-integer data_offsets", origin, name);
    t.begin = v["data_offsets"][0].get<uint64_t>();
    t.end = v["data_offsets"][1].get<uint64_t>();
    if (t.begin > t.end || t.end > data_size)
      fail("{}: tensor '{}' data_offsets [{}, {}] are outside the {}-byte data section", origin, name, t.begin, t.end,
           data_size);
    uint64_t expect = numel * c10::elementSize(t.dtype);
    if (t.end - t.begin != expect)
      fail("{}: tensor '{}' has {} bytes but dtype x shape needs {}", origin, name, t.end - t.begin, expect);
    out.push_back(std::move(t));
  }
  std::vector<const TensorInfo*> sorted;
  for (const auto& t : out) sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < sorted.size(); ++i)
    if (sorted[i]->begin < sorted[i - 1]->end)
      fail("{}: tensors '{}' and '{}' overlap", origin, sorted[i - 1]->name, sorted[i]->name);
  if (data_start) *data_start = 8 + n;
  return out;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path), file_(path) {
  for (auto& t : parse_header(file_.data(), file_.size(), path, &metadata_, &data_start_)) tensors_.emplace(t.name, t);
}

SafetensorsFile::~SafetensorsFile() = default;

const TensorInfo& SafetensorsFile::info(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) fail("{}: no tensor named '{}'", path_, name);
  return it->second;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  for (const auto& [n, _] : tensors_) out.push_back(n);
  return out;
}

at::Tensor SafetensorsFile::view(const std::string& name) const {
  const auto& t = info(name);
  auto* ptr = const_cast<uint8_t*>(file_.data()) + data_start_ + t.begin;
  // from_blob never frees; the mapping outlives every view we hand out while loading.
  return at::from_blob(ptr, t.shape, at::TensorOptions().dtype(t.dtype));
}

void SafetensorsFile::release(const std::string& name) const {
  const auto& t = info(name);
  file_.release(data_start_ + t.begin, data_start_ + t.end);
}

at::Tensor SafetensorsFile::view_rows(const std::string& name, int64_t row_begin, int64_t row_end) const {
  const auto& t = info(name);
  if (t.shape.empty() || row_begin < 0 || row_end < row_begin || row_end > t.shape[0])
    fail("{}: rows [{}, {}) out of range for tensor '{}' with {} rows", path_, row_begin, row_end, name,
         t.shape.empty() ? 0 : t.shape[0]);
  return view(name).slice(0, row_begin, row_end);
}

Checkpoint::Checkpoint(const std::string& dir, const std::string& stem) {
  fs::path single = fs::path(dir) / (stem + ".safetensors");
  fs::path index = fs::path(dir) / (stem + ".safetensors.index.json");
  std::vector<std::string> shard_files;
  if (fs::exists(index)) {
    std::ifstream in(index);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      fail("{}: invalid JSON: {}", index.string(), e.what());
    }
    if (!j.contains("weight_map") || !j["weight_map"].is_object())
      fail("{}: missing 'weight_map' object", index.string());
    std::map<std::string, size_t> file_ids;
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      if (!it.value().is_string()) fail("{}: weight_map.{} must be a file name", index.string(), it.key());
      std::string f = it.value().get<std::string>();
      if (f.find('/') != std::string::npos || f == "..")
        fail("{}: weight_map.{} = '{}' must be a file in the same directory", index.string(), it.key(), f);
      if (!file_ids.count(f)) {
        file_ids[f] = files_.size();
        files_.push_back(std::make_unique<SafetensorsFile>((fs::path(dir) / f).string()));
      }
      size_t id = file_ids[f];
      if (!files_[id]->contains(it.key()))
        fail("{}: index says '{}' is in {}, but that shard does not contain it", index.string(), it.key(), f);
      where_[it.key()] = id;
    }
  } else if (fs::exists(single)) {
    files_.push_back(std::make_unique<SafetensorsFile>(single.string()));
    for (const auto& n : files_[0]->names()) where_[n] = 0;
  } else {
    fail("'{}' has neither {} nor {}", dir, single.filename().string(), index.filename().string());
  }
}

const SafetensorsFile& Checkpoint::file_of(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) fail("checkpoint has no tensor '{}'", name);
  return *files_[it->second];
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  for (const auto& [n, _] : where_) out.push_back(n);
  return out;
}

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<TensorSpec> specs;
  specs.reserve(tensors.size());
  for (const auto& [name, t] : tensors) specs.push_back({name, t.scalar_type(), t.sizes().vec()});
  save_safetensors_streamed(path, specs, [&](size_t i) { return tensors[i].second; }, metadata);
}

void save_safetensors_streamed(const std::string& path, const std::vector<TensorSpec>& specs,
                               const std::function<at::Tensor(size_t)>& make,
                               const std::map<std::string, std::string>& metadata) {
  nlohmann::json h = nlohmann::json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& s : specs) {
    uint64_t bytes = at::elementSize(s.dtype);
    for (int64_t d : s.shape) bytes *= static_cast<uint64_t>(d);
    h[s.name] = {{"dtype", safetensors_dtype_name(s.dtype)}, {"shape", s.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string header = h.dump();
  header.append((8 - header.size() % 8) % 8, ' ');  // align the data section to 8 bytes
  std::string tmp = path + ".tmp";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) fail("cannot write '{}'", tmp);
  uint64_t n = header.size();
  char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  out.write(len, 8);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  // h's keys are sorted; the offsets above follow `specs` order, so write in that order.
  for (size_t i = 0; i < specs.size(); ++i) {
    at::Tensor c = make(i).detach().to(at::kCPU).contiguous();
    if (c.scalar_type() != specs[i].dtype || c.sizes().vec() != specs[i].shape)
      fail("'{}': tensor '{}' is {} [{}], declared {} [{}]", path, specs[i].name, c10::toString(c.scalar_type()),
           fmt::join(c.sizes(), ", "), c10::toString(specs[i].dtype), fmt::join(specs[i].shape, ", "));
    out.write(static_cast<const char*>(c.data_ptr()), static_cast<std::streamsize>(c.numel() * c.element_size()));
  }
  out.flush();
  if (!out) fail("failed writing '{}' (disk full?)", tmp);
  out.close();
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) fail("cannot rename '{}' to '{}': {}", tmp, path, ec.message());
}

void save_sharded(const std::string& dir, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                  uint64_t max_shard_bytes, const std::string& stem) {
  std::vector<std::vector<std::pair<std::string, at::Tensor>>> shards(1);
  uint64_t cur = 0, total = 0;
  for (const auto& kv : tensors) {
    uint64_t bytes = static_cast<uint64_t>(kv.second.numel()) * kv.second.element_size();
    if (cur > 0 && cur + bytes > max_shard_bytes) shards.emplace_back(), cur = 0;
    shards.back().push_back(kv);
    cur += bytes;
    total += bytes;
  }
  fs::create_directories(dir);
  if (shards.size() == 1) {
    save_safetensors((fs::path(dir) / (stem + ".safetensors")).string(), tensors);
    return;
  }
  nlohmann::json weight_map = nlohmann::json::object();
  for (size_t i = 0; i < shards.size(); ++i) {
    std::string f = fmt::format("{}-{:05d}-of-{:05d}.safetensors", stem, i + 1, shards.size());
    save_safetensors((fs::path(dir) / f).string(), shards[i]);
    for (const auto& kv : shards[i]) weight_map[kv.first] = f;
  }
  nlohmann::json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  std::ofstream out(fs::path(dir) / (stem + ".safetensors.index.json"));
  out << index.dump(2) << "\n";
  if (!out) fail("failed writing the safetensors index in '{}'", dir);
}

}  // namespace pt::model
