// Kernels for step.fusion groups: each group's element computation, forward
// and backward, as MLIR (arith, math, llvm pointers) inside a GPU kernel or a
// host loop. NvptxBackend.h turns the GPU kernels into PTX.
//
// The kernel ABI (docs/artifact.md, "GPU kernels"), f32 throughout:
//   NAME(in_0 .. in_k, out_0 .. out_m, i64 n)
//   NAME_grad(in_0 .. in_k, gout_0 .. gout_m, gin_0 .. gin_k, i64 n)
// Every pointer addresses n contiguous elements, except a scalar input's
// (rank 0), which is read at [0]; its gradient is still written per element
// (gin has n elements) and the runtime sums it, so no kernel needs atomics
// and the sum's order is fixed.
#pragma once

#include "mlir/IR/Builders.h"
#include "mlir/Support/LogicalResult.h"

#include <string>

namespace expc::step {
class FusionOp;
}

namespace expc::codegen {

// Threads per block of the generated GPU kernels (one element per thread).
inline constexpr int kFusionBlockSize = 256;

// Why `fusion` gets no kernel (an input that is neither the group's shape
// nor a scalar, a result of another type, an op without a lowering), or ""
// when it can.
std::string whyNoKernel(step::FusionOp fusion);

// A key equal for groups whose kernels would be the same: the same ops in
// the same order over the same kinds of inputs (shapes do not matter).
std::string kernelKey(step::FusionOp fusion);

enum class KernelTarget {
  Gpu,  // gpu.func kernels, one element per thread, in a gpu.module
  Host, // func.func loops over the elements (for testing the math on a CPU)
};

// Adds NAME and NAME_grad for `fusion` at the builder's insertion point (in
// a gpu.module for Gpu, a builtin.module for Host). `whyNoKernel` must be "".
void buildFusionKernels(mlir::OpBuilder &b, step::FusionOp fusion, llvm::StringRef name,
                        KernelTarget target);

} // namespace expc::codegen
