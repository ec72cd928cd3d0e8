// Fused contrastive loss vs its unfused composition: forward + backward time
// per step on this machine, as the median of repeats. Prints ratios.
#include "losses/FusedLosses.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <torch/torch.h>

namespace F = torch::nn::functional;
using exprt::ContrastiveKind;

namespace {

torch::Tensor unfused(const torch::Tensor &a, const torch::Tensor &b, const torch::Tensor &s) {
  auto norm = F::NormalizeFuncOptions().p(2).dim(-1).eps(1e-12);
  torch::Tensor logits = torch::matmul(F::normalize(a, norm), F::normalize(b, norm).t()) * s;
  torch::Tensor t = torch::arange(a.size(0));
  return 0.5 * (F::cross_entropy(logits, t) + F::cross_entropy(logits.t(), t));
}

template <typename Fn> double medianMs(Fn fn, int repeats) {
  std::vector<double> ms;
  fn(); // warm-up
  for (int i = 0; i < repeats; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

} // namespace

int main() {
  const int repeats = 21;
  std::printf("contrastive loss, forward + backward, float32, CPU (%d threads), median of %d\n",
              torch::get_num_threads(), repeats);
  std::printf("%6s %6s %12s %12s %8s\n", "batch", "dim", "unfused ms", "fused ms", "ratio");
  for (int64_t n : {256, 1024, 2048}) {
    const int64_t d = 512;
    torch::manual_seed(0);
    torch::Tensor a = torch::randn({n, d}).requires_grad_(true);
    torch::Tensor b = torch::randn({n, d}).requires_grad_(true);
    torch::Tensor s = torch::scalar_tensor(14.3).requires_grad_(true);
    double u = medianMs([&] { unfused(a, b, s).backward(); }, repeats);
    double f = medianMs(
        [&] { exprt::fusedContrastiveLoss(a, b, s, ContrastiveKind::Clip).backward(); }, repeats);
    std::printf("%6lld %6lld %12.3f %12.3f %7.2fx\n", (long long)n, (long long)d, u, f, u / f);
  }
  return 0;
}
