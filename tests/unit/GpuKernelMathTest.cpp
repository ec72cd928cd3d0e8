// The CUDA contrastive-loss kernels' math, run on the CPU in the kernels'
// own schedule (runtime/losses/ContrastiveKernels.cu: 256 strided shares per
// row merged by the same tree, one sequential walk per column, one gradient
// element per thread) through the functions the kernels call
// (losses/ContrastiveMath.h), against float64 LibTorch: the loss and its
// gradient with respect to the logits, for CLIP and InfoLOOB, with logits
// large enough that a naive exp would overflow. What a GPU adds (launch,
// shared memory, the stream) needs one: docs/gpu.md.
#include "losses/ContrastiveMath.h"

#include <doctest/doctest.h>
#include <torch/torch.h>

#include <vector>

using namespace exprt::gpu;

namespace {

struct Emulated {
  std::vector<float> rowLse, colLse, grad;
  double loss = 0;
};

// What contrastiveLse + contrastiveGrad + the loss's mean compute.
Emulated emulate(const std::vector<float> &L, int64_t n, bool leaveOut, float scale) {
  Emulated e;
  e.rowLse.resize(n), e.colLse.resize(n), e.grad.resize(n * n);
  for (int64_t row = 0; row < n; ++row) {
    Lse share[kLseThreads];
    for (int t = 0; t < kLseThreads; ++t)
      share[t] = lseLineShare(L.data(), n, row, n, 1, t, kLseThreads, leaveOut);
    for (int half = kLseThreads / 2; half > 0; half /= 2)
      for (int t = 0; t < half; ++t)
        share[t] = lseMerge(share[t], share[t + half]);
    e.rowLse[row] = lseValue(share[0]);
  }
  for (int64_t col = 0; col < n; ++col)
    e.colLse[col] = lseValue(lseLineShare(L.data(), n, col, 1, n, 0, 1, leaveOut));
  const float factor = leaveOut ? 1.0f / (float(n) * scale) : 1.0f / (2.0f * float(n));
  for (int64_t k = 0; k < n * n; ++k)
    e.grad[k] = factor * contrastiveGradElement(L[k], e.rowLse[k / n], e.colLse[k % n],
                                                k / n == k % n, leaveOut);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i)
    sum += (e.rowLse[i] - L[i * n + i]) + (e.colLse[i] - L[i * n + i]);
  e.loss = leaveOut ? sum / n / scale : 0.5 * sum / n;
  return e;
}

// The loss over logits in float64, and its gradient by autograd.
std::pair<double, torch::Tensor> reference(const torch::Tensor &logits64, bool leaveOut,
                                           double scale) {
  torch::Tensor L = logits64.clone().requires_grad_(true);
  const int64_t n = L.size(0);
  torch::Tensor diag = L.diagonal();
  torch::Tensor masked = L;
  if (leaveOut)
    masked = L.masked_fill(torch::eye(n, torch::kBool), -std::numeric_limits<double>::infinity());
  torch::Tensor rows = (torch::logsumexp(masked, 1) - diag).mean();
  torch::Tensor cols = (torch::logsumexp(masked, 0) - diag).mean();
  torch::Tensor loss = leaveOut ? (rows + cols) / scale : 0.5 * (rows + cols);
  loss.backward();
  return {loss.item<double>(), L.grad()};
}

void check(int64_t n, double scale, bool leaveOut) {
  torch::manual_seed(11);
  auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  torch::Tensor a = torch::nn::functional::normalize(torch::randn({n, 32}, f64));
  torch::Tensor b = torch::nn::functional::normalize(a + 0.7 * torch::randn({n, 32}, f64));
  torch::Tensor logits = torch::matmul(a, b.t()) * scale;
  torch::Tensor l32 = logits.to(torch::kFloat32).contiguous();
  std::vector<float> L(l32.data_ptr<float>(), l32.data_ptr<float>() + n * n);
  Emulated e = emulate(L, n, leaveOut, float(scale));
  auto [loss, grad] = reference(l32.to(torch::kFloat64), leaveOut, scale);
  torch::Tensor g = torch::from_blob(e.grad.data(), {n, n}, torch::kFloat32).to(torch::kFloat64);
  // Relative to the largest entry (n = 1's CLIP gradient is exactly 0).
  double gradErr = (g - grad).abs().max().item<double>() / (grad.abs().max().item<double>() + 1e-12);
  std::string kind = leaveOut ? "infoloob" : "clip";
  MESSAGE(kind << " n " << n << " scale " << scale << ": loss " << e.loss << " vs " << loss
               << ", grad rel err " << gradErr);
  CHECK(std::abs(e.loss - loss) <= 1e-5 * (1 + std::abs(loss)));
  CHECK(gradErr < 1e-5);
}

} // namespace

TEST_CASE("CUDA contrastive kernels' schedule: CLIP loss and gradient match float64") {
  for (int64_t n : {1, 7, 256, 300})
    check(n, 14.3, false);
  check(300, 100.0, false); // CLIP's largest temperature: logits up to 100
}

TEST_CASE("CUDA contrastive kernels' schedule: InfoLOOB leaves the positive out") {
  for (int64_t n : {2, 257, 300})
    check(n, 14.3, true);
  check(300, 100.0, true);
}

TEST_CASE("the online log-sum-exp merges in any order and ignores empty shares") {
  std::vector<float> x = {88.0f, -3.0f, 87.5f, -100.0f, 0.0f};
  Lse seq = lseEmpty(), split = lseMerge(lseEmpty(), lseEmpty());
  for (float v : x)
    seq = lseAdd(seq, v);
  Lse left = lseAdd(lseAdd(lseEmpty(), x[3]), x[4]);
  Lse right = lseAdd(lseAdd(lseAdd(lseEmpty(), x[0]), x[1]), x[2]);
  split = lseMerge(lseMerge(left, lseEmpty()), right);
  double want = 88.0 + std::log(1 + std::exp(-91.0) + std::exp(-0.5) + std::exp(-188.0) +
                                std::exp(-88.0));
  CHECK(lseValue(seq) == doctest::Approx(want).epsilon(1e-6));
  CHECK(lseValue(split) == doctest::Approx(want).epsilon(1e-6));
}
