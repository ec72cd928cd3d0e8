// The fused contrastive loss's N x N kernels; the math is ContrastiveMath.h.
//
// Rows: one block per row, each thread a strided share merged by a tree in
// shared memory. Columns: one thread per column walking down the rows, so
// a warp reads 32 consecutive floats of a row at each step (coalesced).
// The gradient: one thread per element, from the two log-sum-exps.
#include "losses/ContrastiveKernels.h"
#include "losses/ContrastiveMath.h"

#include <cuda_runtime.h>

namespace exprt::gpu {
namespace {

__global__ void rowLseKernel(const float *logits, int64_t n, bool leaveOut, float *rowLse) {
  __shared__ Lse share[kLseThreads];
  const int64_t row = blockIdx.x;
  const int t = threadIdx.x;
  share[t] = lseLineShare(logits, n, row, n, 1, t, kLseThreads, leaveOut);
  __syncthreads();
  for (int half = kLseThreads / 2; half > 0; half /= 2) {
    if (t < half)
      share[t] = lseMerge(share[t], share[t + half]);
    __syncthreads();
  }
  if (t == 0)
    rowLse[row] = lseValue(share[0]);
}

__global__ void colLseKernel(const float *logits, int64_t n, bool leaveOut, float *colLse) {
  const int64_t col = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (col < n)
    colLse[col] = lseValue(lseLineShare(logits, n, col, 1, n, 0, 1, leaveOut));
}

__global__ void gradKernel(const float *logits, const float *rowLse, const float *colLse,
                           int64_t n, bool leaveOut, float factor, float *grad) {
  const int64_t k = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= n * n)
    return;
  const int64_t i = k / n, j = k % n;
  grad[k] = factor * contrastiveGradElement(logits[k], rowLse[i], colLse[j], i == j, leaveOut);
}

const char *lastError() {
  cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? nullptr : cudaGetErrorString(e);
}

} // namespace

const char *contrastiveLse(const float *logits, int64_t n, bool leaveOut, float *rowLse,
                           float *colLse, void *stream) {
  auto s = static_cast<cudaStream_t>(stream);
  rowLseKernel<<<unsigned(n), kLseThreads, 0, s>>>(logits, n, leaveOut, rowLse);
  colLseKernel<<<unsigned((n + kLseThreads - 1) / kLseThreads), kLseThreads, 0, s>>>(
      logits, n, leaveOut, colLse);
  return lastError();
}

const char *contrastiveGrad(const float *logits, const float *rowLse, const float *colLse,
                            int64_t n, bool leaveOut, float factor, float *grad, void *stream) {
  auto s = static_cast<cudaStream_t>(stream);
  const int64_t total = n * n;
  gradKernel<<<unsigned((total + 255) / 256), 256, 0, s>>>(logits, rowLse, colLse, n, leaveOut,
                                                           factor, grad);
  return lastError();
}

} // namespace exprt::gpu
