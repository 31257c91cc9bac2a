// Learning-rate schedules are pure functions of the step.
#include <catch2/catch.hpp>

#include "optim/schedule.h"

using namespace pt::optim;

TEST_CASE("warmup then constant, linear and cosine decay", "[optim][schedule]") {
  ScheduleOptions s;
  s.warmup_steps = 10;
  s.min_lr_ratio = 0.1;
  s.name = ScheduleName::Constant;
  CHECK(lr_at(s, 1.0, 0, 100) == Approx(0.1));
  CHECK(lr_at(s, 1.0, 9, 100) == Approx(1.0));
  CHECK(lr_at(s, 1.0, 99, 100) == Approx(1.0));
  s.name = ScheduleName::Linear;
  CHECK(lr_at(s, 1.0, 10, 100) == Approx(1.0));
  CHECK(lr_at(s, 1.0, 99, 100) == Approx(0.1));
  CHECK(lr_at(s, 1.0, 10 + 89 / 2, 100) == Approx(0.55).margin(0.01));
  s.name = ScheduleName::Cosine;
  CHECK(lr_at(s, 2.0, 10, 100) == Approx(2.0));
  CHECK(lr_at(s, 2.0, 99, 100) == Approx(0.2));
  CHECK(lr_at(s, 2.0, 10 + 89 / 2, 100) == Approx(1.1).margin(0.02));
  s.warmup_steps = 0;
  CHECK(lr_at(s, 1.0, 0, 1) == Approx(1.0));
}
