#include "optim/schedule.h"

#include <algorithm>
#include <cmath>

namespace pt::optim {

double lr_at(const ScheduleOptions& s, double peak, int64_t step, int64_t total) {
  if (s.warmup_steps > 0 && step < s.warmup_steps) return peak * static_cast<double>(step + 1) / s.warmup_steps;
  if (s.name == ScheduleName::Constant) return peak;
  const double floor = peak * s.min_lr_ratio;
  const int64_t decay = std::max<int64_t>(1, total - s.warmup_steps - 1);
  const double t = std::clamp(static_cast<double>(step - s.warmup_steps) / decay, 0.0, 1.0);
  if (s.name == ScheduleName::Linear) return floor + (peak - floor) * (1.0 - t);
  return floor + (peak - floor) * 0.5 * (1.0 + std::cos(M_PI * t));
}

}  // namespace pt::optim
