// Devices a session runs on: `cpu`, `cuda` (device 0) or `cuda:N`.
#pragma once

#include "exprt/Status.h"

#include <torch/torch.h>

namespace exprt {

// The device `spec` names, or an error saying why this runtime cannot use
// it: a malformed name, a LibTorch without CUDA, no such GPU.
Status resolveDevice(const std::string &spec, torch::Device &out);

} // namespace exprt
