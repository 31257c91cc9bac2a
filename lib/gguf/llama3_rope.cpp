#include "gguf/llama3_rope.h"

#include <cmath>
#include <vector>

#include "core/error.h"
#include "model/blocks.h"

namespace pt::gguf {

namespace {

std::vector<double> to_vector(const at::Tensor& t) {
  auto d = t.to(at::kDouble).contiguous().cpu();
  return {d.data_ptr<double>(), d.data_ptr<double>() + d.numel()};
}

// The largest relative difference between `factors` and those of `s` (the check every fit must pass).
double misfit(const std::vector<double>& factors, const model::RopeScaling& s, double theta, int64_t head_dim) {
  model::HfConfig c;
  c.rope_theta = theta;
  c.head_dim = head_dim;
  c.rope_scaling = s;
  const auto got = to_vector(llama3_rope_factors(c));
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - factors[i]) / factors[i]);
  return worst;
}

}  // namespace

at::Tensor llama3_rope_factors(const model::HfConfig& c) {
  model::HfConfig plain = c;
  plain.rope_scaling = model::RopeScaling{};
  return (model::rope_inv_freq(plain, at::kCPU) / model::rope_inv_freq(c, at::kCPU)).to(at::kFloat);
}

std::optional<model::RopeScaling> fit_llama3_scaling(const at::Tensor& factors_t, double theta, int64_t head_dim,
                                                     const std::string& where) {
  const auto f = to_vector(factors_t);
  const auto inv = to_vector(model::rope_inv_freq_plain(theta, head_dim, at::kCPU));
  if (f.size() != inv.size())
    fail("{}: rope_freqs.weight has {} values but heads {} wide need {}", where, f.size(), head_dim, inv.size());
  double F = 0;
  for (double x : f) {
    if (!(x > 0) || !std::isfinite(x)) fail("{}: rope_freqs.weight holds {}: divisors must be positive", where, x);
    F = std::max(F, x);
  }
  constexpr double kTol = 1e-5;
  if (F <= 1 + kTol) return std::nullopt;
  // In the smoothed band, s = (orig / wavelength - low) / (high - low) is linear in 1 / wavelength:
  // s = a / wavelength - b with a = orig / (high - low), b = low / (high - low).
  std::vector<std::pair<double, double>> band;  // (1 / wavelength, s)
  int64_t last_kept = -1, first_scaled = -1;
  for (size_t i = 0; i < f.size(); ++i) {
    const double rw = inv[i] / (2 * M_PI);
    if (f[i] <= 1 + kTol) last_kept = static_cast<int64_t>(i);
    else if (f[i] >= F * (1 - kTol)) { if (first_scaled < 0) first_scaled = static_cast<int64_t>(i); }
    else band.emplace_back(rw, (1 / f[i] - 1 / F) / (1 - 1 / F));
  }
  model::RopeScaling s;
  s.type = "llama3";
  s.factor = F;
  s.low_freq_factor = 1;
  s.high_freq_factor = 4;
  if (band.size() >= 2) {
    // Least squares over the band for (a, b); then low = 1 fixes the rest (only a and b matter).
    double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (auto [x, y] : band) n += 1, sx += x, sy += y, sxx += x * x, sxy += x * y;
    const double a = (n * sxy - sx * sy) / (n * sxx - sx * sx), b = (a * sx - sy) / n;
    if (b > 0) {
      s.high_freq_factor = std::round((1 + 1 / b) * 1e4) / 1e4;
      s.original_max_position_embeddings = static_cast<int64_t>(std::llround(a / b));
    }
  } else if (band.size() == 1) {
    // low 1, high 4: orig / wavelength = 1 + 3 s.
    s.original_max_position_embeddings = static_cast<int64_t>(std::llround((1 + 3 * band[0].second) / band[0].first));
  } else if (last_kept >= 0 && first_scaled >= 0) {
    // No band: any original context whose band falls between the two dimensions; a power of two.
    const double lo = 4 * 2 * M_PI / inv[static_cast<size_t>(last_kept)], hi = 2 * M_PI / inv[static_cast<size_t>(first_scaled)];
    int64_t p = 1;
    while (static_cast<double>(p) <= lo) p *= 2;
    s.original_max_position_embeddings = static_cast<double>(p) < hi ? p : static_cast<int64_t>(std::floor(hi));
  }
  const double worst = misfit(f, s, theta, head_dim);
  if (worst > kTol)
    fail("{}: rope_freqs.weight does not follow Llama 3's RoPE scaling (the closest, factor {} low_freq_factor {} "
         "high_freq_factor {} original context {}, is off by {:.2g} relative): not imported",
         where, s.factor, s.low_freq_factor, s.high_freq_factor, s.original_max_position_embeddings, worst);
  return s;
}

}  // namespace pt::gguf
