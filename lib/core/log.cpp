#include "core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include "core/error.h"

namespace pt::log {

namespace {
int g_rank = 0;
}

void init(int rank, int world_size, const std::string& level) {
  g_rank = rank;
  spdlog::drop("posttrain_" + std::to_string(rank));  // re-initialised once the MPI world is known
  auto logger = spdlog::stderr_color_mt("posttrain_" + std::to_string(rank));
  std::string prefix = world_size > 1 ? fmt::format("[rank {}/{}] ", rank, world_size) : "";
  logger->set_pattern("%^[%H:%M:%S %L]%$ " + prefix + "%v");
  spdlog::set_default_logger(logger);
  set_level(level);
}

void set_level(const std::string& level) {
  auto lv = spdlog::level::from_str(level);
  if (lv == spdlog::level::off && level != "off")
    fail("unknown log level '{}': expected one of trace, debug, info, warn, error, off", level);
  // Ranks other than 0 only report problems, whatever the recipe asks.
  spdlog::set_level(g_rank != 0 && lv < spdlog::level::warn ? spdlog::level::warn : lv);
}

int rank() { return g_rank; }

}  // namespace pt::log
