// LibTorch's CPU autocast (bf16) switched on or off for a scope, restoring
// what was there before: the training step turns it on for `precision =
// bf16`, the fused loss kernel turns it off inside.
#pragma once

#include <ATen/autocast_mode.h>

namespace exprt {

class CpuAutocast {
public:
  explicit CpuAutocast(bool enabled) : previous_(at::autocast::is_cpu_enabled()) {
    if (enabled)
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(enabled);
  }
  ~CpuAutocast() {
    // Leaving the outermost autocast region drops its cached bf16 weights.
    if (at::autocast::is_cpu_enabled() && !previous_)
      at::autocast::clear_cache();
    at::autocast::set_cpu_enabled(previous_);
  }
  CpuAutocast(const CpuAutocast &) = delete;
  CpuAutocast &operator=(const CpuAutocast &) = delete;

private:
  bool previous_;
};

} // namespace exprt
