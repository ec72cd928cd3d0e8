// One kernel per step-level op of the plan contract (contract/StepOps.h,
// generated from compiler/dialects/step/StepOps.td). Kernels are
// LibTorch calls, so autograd differentiates them.
#pragma once

#include "plan/Plan.h"

#include <torch/types.h>

namespace exprt {

class ParameterStore;

using KernelFn = torch::Tensor (*)(const std::vector<torch::Tensor> &in, const OpAttrs &attrs,
                                   ParameterStore &params);

// Index of the kernel for `op`, or -1 when this runtime has none (or the
// plan contract no such op).
int findKernel(const std::string &op);
// The op's operand count from the plan contract (0: variadic).
size_t kernelArity(int kernel);
// Whether the op is elementwise (may appear in a fusion group), per the contract.
bool kernelIsElementwise(int kernel);
KernelFn kernelFunction(int kernel);
// Every op this runtime has a kernel for (the plan contract test).
std::vector<std::string> kernelNames();

// Binds every op of `plan` to its kernel, and decodes the kinds its loss
// kernels dispatch on (an objective, a contrastive variant); errors name
// `origin` and the op's JSON path.
Status bindKernels(Plan &plan, const std::string &origin);
// A plan ready to run: read (plan/Plan.h readPlan), then bound to kernels.
Status parsePlan(const std::string &text, const std::string &origin, Plan &plan);

} // namespace exprt
