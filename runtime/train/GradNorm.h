// The global gradient norm before clipping (PyTorch's clip_grad_norm_), two
// ways: read on the host each step, or left on the device as a tensor so a
// CUDA graph can capture the whole step.
#pragma once

#include <torch/types.h>

#include <vector>

namespace exprt {

// The norm of every defined gradient of `params` together, clipping them to
// `max` when it is > 0 (clip_grad_norm_'s coefficient, max / (norm + 1e-6),
// applied only when below 1).
double gradientNorm(const std::vector<torch::Tensor> &params, double max);

// The same as a 0-d tensor on the gradients' device, with no host read: the
// coefficient is clamped to 1 instead of tested (multiplying by 1 leaves a
// gradient unchanged).
torch::Tensor gradientNormTensor(const std::vector<torch::Tensor> &params, double max);

} // namespace exprt
