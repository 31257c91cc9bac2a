#include "model/packed.h"

#include <algorithm>

namespace pt::model {

PackedInput PackedInput::from_documents(const std::vector<std::vector<int64_t>>& docs, at::Device device) {
  std::vector<int64_t> ids, pos;
  std::vector<int32_t> cu{0};
  int64_t longest = 0;
  for (const auto& d : docs) {
    for (size_t i = 0; i < d.size(); ++i) {
      ids.push_back(d[i]);
      pos.push_back(static_cast<int64_t>(i));
    }
    cu.push_back(static_cast<int32_t>(ids.size()));
    longest = std::max<int64_t>(longest, static_cast<int64_t>(d.size()));
  }
  PackedInput in;
  auto i64 = at::TensorOptions().dtype(at::kLong);
  in.input_ids = at::tensor(ids, i64).to(device);
  in.position_ids = at::tensor(pos, i64).to(device);
  in.cu_seqlens = at::tensor(cu, at::TensorOptions().dtype(at::kInt)).to(device);
  in.max_seqlen = longest;
  return in;
}

std::vector<int64_t> PackedInput::boundaries() const {
  at::Tensor c = cu_seqlens.to(at::kCPU).to(at::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

bool PackedInput::has_prefixes() const {
  return std::any_of(prefix_doc.begin(), prefix_doc.end(), [](int32_t p) { return p >= 0; });
}

}  // namespace pt::model
