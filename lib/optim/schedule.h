#pragma once
// Learning-rate schedules: pure functions of the step, so resuming needs only the step number.
#include <cstdint>

#include "optim/options.h"

namespace pt::optim {

// lr for optimizer step `step` (0-based) of `total_steps`: linear warmup from lr/warmup to lr over
// warmup_steps, then constant, or linear / cosine decay to lr * min_lr_ratio at the last step.
double lr_at(const ScheduleOptions& s, double peak_lr, int64_t step, int64_t total_steps);

}  // namespace pt::optim
