#include "model/blocks.h"

#include <cmath>

namespace pt::model {

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  auto xf = x.to(at::kFloat);
  auto normed = xf * at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return weight * normed.to(x.scalar_type());
}

at::Tensor rms_norm_plus_one(const at::Tensor& x, const at::Tensor& weight, double eps) {
  auto xf = x.to(at::kFloat);
  auto normed = xf * at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return (normed * (1.0 + weight.to(at::kFloat))).to(x.scalar_type());
}

at::Tensor rope_inv_freq_plain(double theta, int64_t head_dim, const at::Device& device) {
  HfConfig c;
  c.head_dim = head_dim;
  c.rope_theta = theta;
  return rope_inv_freq(c, device);
}

at::Tensor rope_inv_freq(const HfConfig& c, const at::Device& device) {
  const int64_t dim = c.head_dim;
  auto opts = at::TensorOptions().dtype(at::kFloat);
  // Computed as HF does: 1 / theta^(arange(0, dim, 2) / dim), in fp32.
  auto exponent = at::arange(0, dim, 2, at::TensorOptions().dtype(at::kLong)).to(at::kFloat) / static_cast<double>(dim);
  auto inv = 1.0 / at::pow(at::scalar_tensor(c.rope_theta, opts), exponent);
  const auto& s = c.rope_scaling;
  if (s.type == "linear") {
    inv = inv / s.factor;
  } else if (s.type == "llama3") {
    const double old_ctx = static_cast<double>(s.original_max_position_embeddings);
    const double low_wavelen = old_ctx / s.low_freq_factor;
    const double high_wavelen = old_ctx / s.high_freq_factor;
    auto wavelen = 2.0 * M_PI / inv;
    // Long wavelengths are scaled down by `factor`, short ones kept, the band between interpolated.
    auto scaled = at::where(wavelen > low_wavelen, inv / s.factor, inv);
    auto smooth = (old_ctx / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
    auto smoothed = (1.0 - smooth) * scaled / s.factor + smooth * scaled;
    auto medium = wavelen.ge(high_wavelen).logical_and(wavelen.le(low_wavelen));
    inv = at::where(medium, smoothed, scaled);
  } else if (s.type == "yarn") {
    // Extrapolated frequencies for the fast-rotating dimensions, interpolated (/ factor) for the slow
    // ones, a linear ramp between the dimensions that rotate beta_fast and beta_slow times over the
    // original context (transformers' _compute_yarn_parameters).
    const double base = c.rope_theta, orig = static_cast<double>(s.original_max_position_embeddings);
    auto correction_dim = [&](double rotations) {
      return (static_cast<double>(dim) * std::log(orig / (rotations * 2 * M_PI))) / (2 * std::log(base));
    };
    double low = correction_dim(s.beta_fast), high = correction_dim(s.beta_slow);
    if (s.truncate) low = std::floor(low), high = std::ceil(high);
    low = std::max(low, 0.0);
    high = std::min(high, static_cast<double>(dim - 1));
    if (low == high) high += 0.001;
    auto ramp = ((at::arange(dim / 2, opts) - low) / (high - low)).clamp(0, 1);
    auto extrapolation = 1 - ramp;
    auto pos_freqs = at::pow(at::scalar_tensor(base, opts), exponent);
    auto interpolation = 1.0 / (s.factor * pos_freqs);
    inv = interpolation * (1 - extrapolation) + (1.0 / pos_freqs) * extrapolation;
  }
  return inv.to(device);
}

std::pair<at::Tensor, at::Tensor> rope_cos_sin(const at::Tensor& inv_freq, const at::Tensor& position_ids,
                                               at::ScalarType dtype, double attention_scaling) {
  auto freqs = position_ids.to(at::kFloat).unsqueeze(1) * inv_freq.unsqueeze(0);  // [N, D/2]
  auto emb = at::cat({freqs, freqs}, -1).unsqueeze(1);                              // [N, 1, D]
  if (attention_scaling == 1.0) return {emb.cos().to(dtype), emb.sin().to(dtype)};
  return {(emb.cos() * attention_scaling).to(dtype), (emb.sin() * attention_scaling).to(dtype)};
}

at::Tensor dynamic_rope_inv_freq(const HfConfig& c, const at::Tensor& position_ids, const at::Tensor& cu_seqlens) {
  const int64_t dim = c.head_dim;
  const auto dev = position_ids.device();
  auto pos = position_ids.to(at::kLong);
  auto cu = cu_seqlens.to(dev).to(at::kLong);
  const int64_t docs = cu.size(0) - 1;
  auto doc_of = at::repeat_interleave(at::arange(docs, cu.options()), cu.narrow(0, 1, docs) - cu.narrow(0, 0, docs));
  auto longest = at::zeros({docs}, pos.options()).scatter_reduce(0, doc_of, pos, "amax", /*include_self=*/false) + 1;
  auto seq_len = longest.index_select(0, doc_of).clamp_min(c.max_position_embeddings).to(at::kFloat);  // [N]
  // fp32 throughout, as transformers computes it from a tensor sequence length.
  const double factor = c.rope_scaling.factor;
  auto base = at::pow(seq_len * factor / static_cast<double>(c.max_position_embeddings) - (factor - 1),
                      static_cast<double>(dim) / static_cast<double>(dim - 2)) *
              c.rope_theta;
  auto exponent = at::arange(0, dim, 2, at::TensorOptions().dtype(at::kLong).device(dev)).to(at::kFloat) /
                  static_cast<double>(dim);
  return 1.0 / at::pow(base.unsqueeze(1), exponent.unsqueeze(0));  // [N, D/2]
}

std::pair<at::Tensor, at::Tensor> rope_cos_sin_per_token(const at::Tensor& inv_freq, const at::Tensor& position_ids,
                                                         at::ScalarType dtype) {
  auto freqs = position_ids.to(at::kFloat).unsqueeze(1) * inv_freq;  // [N, D/2]
  auto emb = at::cat({freqs, freqs}, -1).unsqueeze(1);                 // [N, 1, D]
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  auto x1 = x.narrow(-1, 0, half);
  auto x2 = x.narrow(-1, half, half);
  auto rotated = at::cat({-x2, x1}, -1);
  return x * cos + rotated * sin;
}

}  // namespace pt::model
