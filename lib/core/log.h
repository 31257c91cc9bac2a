#pragma once
// Rank-aware logging over spdlog. Every line carries "[rank r/w]" once the world is known; by
// default only rank 0 logs at info, the others only warnings and errors.
#include <spdlog/spdlog.h>

namespace pt::log {

void init(int rank = 0, int world_size = 1, const std::string& level = "info");
void set_level(const std::string& level);  // trace, debug, info, warn, error, off
int rank();

using spdlog::debug;
using spdlog::error;
using spdlog::info;
using spdlog::trace;
using spdlog::warn;

}  // namespace pt::log
