// gpu.module -> PTX: MLIR's GPU-to-NVVM conversion, then LLVM's NVPTX
// backend. Needs no CUDA toolkit: math functions are expanded into
// polynomials in MLIR (no libdevice), and PTX is text the driver assembles
// when it loads the plan (and `ptxas` checks at build time).
#pragma once

#include "mlir/Support/LLVM.h"
#include "mlir/Support/LogicalResult.h"

#include <string>

namespace mlir {
class DialectRegistry;
class Operation;
namespace gpu {
class GPUModuleOp;
}
} // namespace mlir

namespace expc::codegen {

// The GPU architectures plans may target; the PTX runs on these and newer.
bool isSupportedGpuArch(llvm::StringRef arch);
inline constexpr const char *kSupportedGpuArchs = "sm_75, sm_80, sm_86, sm_89, sm_90";
// The PTX ISA version the kernels declare (CUDA 11.8 drivers and newer).
inline constexpr const char *kPtxVersion = "7.8";

// The dialects and translations `compileToPtx` needs; add them to the
// context's registry before building kernels.
void registerNvptxBackend(mlir::DialectRegistry &registry);

// Expands the math functions (exp, tanh, erf) under `root` into arith
// polynomials (upstream MLIR's approximations), so kernels need no libdevice
// and a host build of them computes exactly what the GPU does.
mlir::LogicalResult expandMathFunctions(mlir::Operation *root);

// Lowers the kernels of `kernels` (consumed: it is rewritten in place) to
// one PTX module for `arch`. Errors are emitted at the module's location.
mlir::FailureOr<std::string> compileToPtx(mlir::gpu::GPUModuleOp kernels, llvm::StringRef arch);

} // namespace expc::codegen
