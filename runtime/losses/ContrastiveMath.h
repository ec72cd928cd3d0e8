// The fused contrastive loss's N x N part, as functions both the CUDA
// kernels (ContrastiveKernels.cu) and host code can call: a running
// log-sum-exp that merges in any order (the online softmax), a thread's
// share of one row, and the gradient element. Host tests run the kernels'
// schedule through these against float64 LibTorch (GpuKernelMathTest.cpp).
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define EXP_HD __host__ __device__ __forceinline__
#else
#define EXP_HD inline
#endif

namespace exprt::gpu {

// Threads per block of the row and column reductions (a power of two).
constexpr int kLseThreads = 256;

// log(sum exp x) as max m and sum s of exp(x - m); empty: s = 0.
struct Lse {
  float m;
  float s;
};

EXP_HD Lse lseEmpty() { return {-INFINITY, 0.0f}; }

EXP_HD Lse lseAdd(Lse a, float x) {
  if (x <= a.m)
    return {a.m, a.s + expf(x - a.m)};
  return {x, a.s * expf(a.m - x) + 1.0f}; // also the first element (a.s = 0)
}

EXP_HD Lse lseMerge(Lse a, Lse b) {
  if (b.s == 0.0f)
    return a;
  if (a.s == 0.0f)
    return b;
  float m = fmaxf(a.m, b.m);
  return {m, a.s * expf(a.m - m) + b.s * expf(b.m - m)};
}

EXP_HD float lseValue(Lse a) { return a.m + logf(a.s); }

// Thread `t` of `threads` over line `line` of the n x n logits: elements
// t, t + threads, ... of the row (`stride` 1 between elements, n between
// lines) or the column (the other way round). `leaveOut` skips the
// diagonal: InfoLOOB's positive is not in its own denominator.
EXP_HD Lse lseLineShare(const float *logits, int64_t n, int64_t line, int64_t lineStride,
                        int64_t elemStride, int t, int threads, bool leaveOut) {
  Lse acc = lseEmpty();
  for (int64_t k = t; k < n; k += threads)
    if (!(leaveOut && k == line))
      acc = lseAdd(acc, logits[line * lineStride + k * elemStride]);
  return acc;
}

// d(sum of both directions' CE) / d logit(i, j), before the kind's factor
// (1/2N for CLIP, 1/(N scale) for InfoLOOB): P_ij + Q_ij - 2 [i = j], where P
// and Q are the row and column softmaxes; InfoLOOB's left-out positive has
// P_ii = Q_ii = 0.
EXP_HD float contrastiveGradElement(float logit, float rowLse, float colLse, bool diagonal,
                                    bool leaveOut) {
  if (diagonal && leaveOut)
    return -2.0f;
  return expf(logit - rowLse) + expf(logit - colLse) - (diagonal ? 2.0f : 0.0f);
}

} // namespace exprt::gpu
