// One kernel per step-level op (compiler/dialects/step/StepOps.td). Kernels are
// LibTorch calls, so autograd differentiates them.
#pragma once

#include "plan/Plan.h"

#include <torch/types.h>

namespace exprt {

class ParameterStore;

using KernelFn = torch::Tensor (*)(const std::vector<torch::Tensor> &in, const OpAttrs &attrs,
                                   ParameterStore &params);

// Index of the kernel for `op`, or -1 when this runtime has none.
int findKernel(const std::string &op);
size_t kernelArity(int kernel);
// Whether the op is elementwise (may appear in a fusion group).
bool kernelIsElementwise(int kernel);
KernelFn kernelFunction(int kernel);

} // namespace exprt
