// LibTorch's autocast (bf16) switched on or off for a scope on one device
// type (CPU or CUDA), restoring what was there before: the training step
// turns it on for `precision = bf16`, the losses turn it off inside.
// LibTorch 2.4 replaced the per-backend calls (is_cpu_enabled, set_enabled)
// with ones taking the device type; Debian's 1.13 has only the old ones.
#pragma once

#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace exprt {

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define EXP_AUTOCAST_BY_DEVICE 1
#endif

inline bool autocastEnabled(c10::DeviceType type) {
#ifdef EXP_AUTOCAST_BY_DEVICE
  return at::autocast::is_autocast_enabled(type);
#else
  return type == c10::DeviceType::CUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

inline void setAutocast(c10::DeviceType type, bool enabled) {
#ifdef EXP_AUTOCAST_BY_DEVICE
  if (enabled)
    at::autocast::set_autocast_dtype(type, at::kBFloat16);
  at::autocast::set_autocast_enabled(type, enabled);
#else
  if (type == c10::DeviceType::CUDA) {
    if (enabled)
      at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(enabled);
  } else {
    if (enabled)
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(enabled);
  }
#endif
}

class Autocast {
public:
  // bf16 autocast on `type` (the device the tensors are on) when `enabled`,
  // off otherwise. `cacheCasts` false: every cast is recomputed, as inside a
  // CUDA graph capture, whose replays must not read casts cached outside it.
  Autocast(bool enabled, c10::DeviceType type = c10::DeviceType::CPU, bool cacheCasts = true)
      : type_(type), previous_(autocastEnabled(type)),
        previousCache_(at::autocast::is_autocast_cache_enabled()) {
    at::autocast::set_autocast_cache_enabled(cacheCasts && previousCache_);
    setAutocast(type, enabled);
  }
  ~Autocast() {
    // Leaving the outermost autocast region drops its cached bf16 weights.
    if (autocastEnabled(type_) && !previous_)
      at::autocast::clear_cache();
    setAutocast(type_, previous_);
    at::autocast::set_autocast_cache_enabled(previousCache_);
  }
  Autocast(const Autocast &) = delete;
  Autocast &operator=(const Autocast &) = delete;

private:
  c10::DeviceType type_;
  bool previous_, previousCache_;
};

} // namespace exprt
