// The fused contrastive loss against its unfused composition (what the step
// graph computes before step-fuse-contrastive-loss), in float64, forward and
// backward, on random inputs.
#include "losses/FusedLosses.h"

#include <doctest/doctest.h>
#include <torch/torch.h>

using namespace exprt;
namespace F = torch::nn::functional;

namespace {

torch::Tensor normalize(const torch::Tensor &x) {
  return F::normalize(x, F::NormalizeFuncOptions().p(2).dim(-1).eps(1e-12));
}

// The composition the compiler emits for `clip` before fusion.
torch::Tensor clipReference(const torch::Tensor &a, const torch::Tensor &b, const torch::Tensor &s) {
  torch::Tensor logits = torch::matmul(normalize(a), normalize(b).t()) * s;
  torch::Tensor targets = torch::arange(a.size(0));
  return 0.5 * (F::cross_entropy(logits, targets) + F::cross_entropy(logits.t(), targets));
}

// CLOOB's infoLOOB_loss (both directions), as in its reference code.
torch::Tensor infoLoobReference(const torch::Tensor &a, const torch::Tensor &b,
                                const torch::Tensor &s) {
  auto one = [&](const torch::Tensor &x, const torch::Tensor &y) {
    torch::Tensor k = torch::matmul(x, y.t()) * s;
    torch::Tensor i = torch::eye(x.size(0), x.options());
    torch::Tensor positives = -(k * i).sum(1).mean();
    torch::Tensor negatives = (k * (1 - i) + i * -10000.0).logsumexp(1).mean();
    return (positives + negatives) / s;
  };
  torch::Tensor an = normalize(a), bn = normalize(b);
  return one(an, bn) + one(bn, an);
}

struct Grads {
  torch::Tensor loss, a, b, s;
};

Grads run(bool fused, ContrastiveKind kind, const torch::Tensor &a0, const torch::Tensor &b0,
          double scale) {
  torch::Tensor a = a0.clone().requires_grad_(true), b = b0.clone().requires_grad_(true);
  torch::Tensor s = torch::scalar_tensor(scale, torch::kFloat64).requires_grad_(true);
  torch::Tensor loss = fused ? fusedContrastiveLoss(a, b, s, kind)
                             : kind == ContrastiveKind::Clip ? clipReference(a, b, s)
                                                            : infoLoobReference(a, b, s);
  loss.backward();
  return {loss.detach(), a.grad(), b.grad(), s.grad()};
}

void checkAgainstReference(ContrastiveKind kind) {
  for (int trial = 0; trial < 5; ++trial) {
    torch::manual_seed(100 + trial);
    int64_t n = 3 + 4 * trial, d = 2 + 3 * trial;
    torch::Tensor a = torch::randn({n, d}, torch::kFloat64) * (0.5 + trial);
    torch::Tensor b = torch::randn({n, d}, torch::kFloat64);
    double scale = 1.0 + 7.0 * trial;
    Grads ref = run(false, kind, a, b, scale), got = run(true, kind, a, b, scale);
    CAPTURE(trial);
    CHECK(torch::allclose(got.loss, ref.loss, 1e-12, 1e-12));
    CHECK(torch::allclose(got.a, ref.a, 1e-10, 1e-12));
    CHECK(torch::allclose(got.b, ref.b, 1e-10, 1e-12));
    CHECK(torch::allclose(got.s, ref.s, 1e-10, 1e-12));
  }
}

} // namespace

TEST_CASE("fused CLIP loss equals the unfused composition, gradients included (float64)") {
  checkAgainstReference(ContrastiveKind::Clip);
}

TEST_CASE("fused InfoLOOB loss equals CLOOB's reference, gradients included (float64)") {
  checkAgainstReference(ContrastiveKind::InfoLoob);
}

TEST_CASE("fused loss: a zero embedding (clamped norm) differentiates like the composition") {
  torch::manual_seed(7);
  torch::Tensor a = torch::randn({4, 3}, torch::kFloat64), b = torch::randn({4, 3}, torch::kFloat64);
  a[2].zero_();
  Grads ref = run(false, ContrastiveKind::Clip, a, b, 5.0);
  Grads got = run(true, ContrastiveKind::Clip, a, b, 5.0);
  CHECK(torch::allclose(got.loss, ref.loss, 1e-12, 1e-12));
  CHECK(torch::allclose(got.a, ref.a, 1e-10, 1e-12));
  CHECK(torch::allclose(got.b, ref.b, 1e-10, 1e-12));
}

TEST_CASE("fused loss passes gradcheck") {
  torch::manual_seed(11);
  for (ContrastiveKind kind : {ContrastiveKind::Clip, ContrastiveKind::InfoLoob}) {
    torch::Tensor a = torch::randn({5, 4}, torch::kFloat64).requires_grad_(true);
    torch::Tensor b = torch::randn({5, 4}, torch::kFloat64).requires_grad_(true);
    torch::Tensor s = torch::scalar_tensor(3.0, torch::kFloat64).requires_grad_(true);
    // Central differences of the fused forward against its hand backward.
    torch::Tensor loss = fusedContrastiveLoss(a, b, s, kind);
    auto grads = torch::autograd::grad({loss}, {a, b, s});
    const double h = 1e-6;
    std::vector<torch::Tensor> inputs = {a, b, s};
    for (size_t k = 0; k < inputs.size(); ++k) {
      torch::Tensor flat = inputs[k].detach().reshape(-1);
      for (int64_t i = 0; i < flat.numel(); ++i) {
        std::vector<torch::Tensor> plus, minus;
        for (size_t j = 0; j < inputs.size(); ++j) {
          plus.push_back(inputs[j].detach().clone());
          minus.push_back(inputs[j].detach().clone());
        }
        plus[k].view(-1)[i] += h;
        minus[k].view(-1)[i] -= h;
        double numeric = (fusedContrastiveLoss(plus[0], plus[1], plus[2], kind).item<double>() -
                          fusedContrastiveLoss(minus[0], minus[1], minus[2], kind).item<double>()) /
                         (2 * h);
        CHECK(grads[k].reshape(-1)[i].item<double>() == doctest::Approx(numeric).epsilon(1e-5));
      }
    }
  }
}
