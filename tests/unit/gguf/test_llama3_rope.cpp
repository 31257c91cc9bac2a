// Llama 3 RoPE scaling through GGUF's rope_freqs.weight: the divisors we write are recovered as the
// same scaling (the frequencies, not merely the parameters, are compared), for Llama 3.1's shape
// (a wide smoothed band) and other band edges; factors of another form are refused.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "gguf/llama3_rope.h"
#include "model/blocks.h"

using namespace pt;

namespace {
model::HfConfig llama3(double theta, int64_t head_dim, double factor, double low, double high, int64_t orig) {
  model::HfConfig c;
  c.rope_theta = theta;
  c.head_dim = head_dim;
  c.rope_scaling.type = "llama3";
  c.rope_scaling.factor = factor;
  c.rope_scaling.low_freq_factor = low;
  c.rope_scaling.high_freq_factor = high;
  c.rope_scaling.original_max_position_embeddings = orig;
  return c;
}
}  // namespace

TEST_CASE("llama3 RoPE divisors are recovered as the scaling that gives them", "[gguf][rope]") {
  for (const auto& c : {llama3(500000, 128, 8, 1, 4, 8192),   // Llama 3.1 8B
                        llama3(500000, 64, 32, 1, 4, 8192),    // Llama 3.2 1B
                        llama3(10000, 64, 4, 2, 8, 4096),      // other band edges
                        llama3(500000, 16, 8, 1, 4, 64)}) {    // the tiny test model: one band dimension
    INFO("theta " << c.rope_theta << " head_dim " << c.head_dim << " factor " << c.rope_scaling.factor << " low "
                  << c.rope_scaling.low_freq_factor << " high " << c.rope_scaling.high_freq_factor);
    const at::Tensor f = gguf::llama3_rope_factors(c);
    REQUIRE(f.numel() == c.head_dim / 2);
    CHECK(f.min().item<double>() == Approx(1.0));
    CHECK(f.max().item<double>() == Approx(c.rope_scaling.factor));
    auto s = gguf::fit_llama3_scaling(f, c.rope_theta, c.head_dim, "x.gguf");
    REQUIRE(s);
    model::HfConfig back = c;
    back.rope_scaling = *s;
    const double diff = (model::rope_inv_freq(back, at::kCPU) - model::rope_inv_freq(c, at::kCPU)).abs().max().item<double>();
    CHECK(diff <= 1e-6 * model::rope_inv_freq(c, at::kCPU).abs().max().item<double>());
    CHECK(s->factor == Approx(c.rope_scaling.factor));
  }
  // All ones: no scaling at all.
  CHECK_FALSE(gguf::fit_llama3_scaling(at::ones({32}), 500000, 64, "x.gguf"));
  // Divisors rising evenly: no Llama 3 scaling gives them.
  REQUIRE_THROWS_WITH(gguf::fit_llama3_scaling(at::linspace(1, 3, 32), 500000, 64, "x.gguf"),
                      Catch::Contains("x.gguf: rope_freqs.weight does not follow Llama 3's RoPE scaling"));
  REQUIRE_THROWS_WITH(gguf::fit_llama3_scaling(at::ones({8}), 500000, 64, "x.gguf"), Catch::Contains("8 values"));
}
