#include "model/autocast.h"

#include <ATen/autocast_mode.h>

namespace pt::model {

AutocastState AutocastState::of(const at::Tensor& like) {
  const at::DeviceType d = like.device().type();
  return {d, at::autocast::is_autocast_enabled(d), at::autocast::get_autocast_dtype(d)};
}

int64_t AutocastState::pack() const {
  return (static_cast<int64_t>(device) << 16) | (static_cast<int64_t>(enabled) << 8) | static_cast<int64_t>(dtype);
}

AutocastState AutocastState::unpack(int64_t packed) {
  return {static_cast<at::DeviceType>(packed >> 16), ((packed >> 8) & 1) != 0, static_cast<at::ScalarType>(packed & 0xff)};
}

AutocastScope::AutocastScope(const AutocastState& s, bool active)
    : saved_(AutocastState{s.device, false, s.dtype}), active_(active) {
  if (!active_) return;
  saved_.enabled = at::autocast::is_autocast_enabled(s.device);
  saved_.dtype = at::autocast::get_autocast_dtype(s.device);
  at::autocast::set_autocast_enabled(s.device, s.enabled);
  at::autocast::set_autocast_dtype(s.device, s.dtype);
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  at::autocast::set_autocast_enabled(saved_.device, saved_.enabled);
  at::autocast::set_autocast_dtype(saved_.device, saved_.dtype);
  if (!saved_.enabled) at::autocast::clear_cache();
}

}  // namespace pt::model
