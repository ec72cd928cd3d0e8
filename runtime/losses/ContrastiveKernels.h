// CUDA kernels of the fused contrastive loss (ContrastiveKernels.cu), behind
// a plain C++ interface over device pointers, so the runtime's CUDA path
// (CudaLosses.cpp) calls them without compiling CUDA itself. The similarity
// matmuls stay in cuBLAS (through LibTorch); these kernels do the N x N part
// the CPU path does with several LibTorch ops (losses/FusedLosses.cpp).
#pragma once

#include <cstdint>

namespace exprt::gpu {

// Row and column log-sum-exp of the n x n `logits` (row-major), the
// diagonal left out when `leaveOut` (InfoLOOB). `stream` is a cudaStream_t.
// Returns nullptr, or the CUDA error's text.
const char *contrastiveLse(const float *logits, int64_t n, bool leaveOut, float *rowLse,
                           float *colLse, void *stream);

// grad(i, j) = factor * contrastiveGradElement(...) over the n x n logits.
const char *contrastiveGrad(const float *logits, const float *rowLse, const float *colLse,
                            int64_t n, bool leaveOut, float factor, float *grad, void *stream);

} // namespace exprt::gpu
