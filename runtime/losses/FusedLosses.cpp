#include "losses/FusedLosses.h"

#include <torch/torch.h>

#ifdef EXP_WITH_CUDA
#include "gpu/CudaRuntime.h"
#endif

namespace exprt {
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

constexpr double kNormEps = 1e-12; // as F::normalize in the unfused kernel

// x / max(||x||, eps) along the last dim, and the clamped norm for backward.
std::pair<Tensor, Tensor> normalizeRows(const Tensor &x) {
  Tensor n = x.norm(2, -1, /*keepdim=*/true).clamp_min(kNormEps);
  return {x / n, n};
}

// d/dx of x / max(||x||, eps): the gradient's radial component vanishes
// unless the norm was clamped (then the map is linear, x / eps).
Tensor normalizeBackward(const Tensor &grad, const Tensor &xn, const Tensor &n,
                         const Tensor &x) {
  Tensor radial = (xn * grad).sum(-1, /*keepdim=*/true);
  Tensor g = (grad - xn * radial) / n;
  Tensor clamped = x.norm(2, -1, /*keepdim=*/true) < kNormEps;
  return torch::where(clamped, grad / kNormEps, g);
}

// log-sum-exp along `dim` and the softmax, from one exp of the logits.
std::pair<Tensor, Tensor> softmaxWithLse(const Tensor &logits, int64_t dim) {
  Tensor max = std::get<0>(logits.max(dim, /*keepdim=*/true));
  Tensor e = (logits - max).exp_();
  Tensor sum = e.sum(dim, /*keepdim=*/true);
  Tensor lse = (sum.log() + max).squeeze(dim);
  return {lse, e.div_(sum)};
}

struct FusedContrastive : torch::autograd::Function<FusedContrastive> {
  static Tensor forward(AutogradContext *ctx, const Tensor &a, const Tensor &b,
                        const Tensor &scale, int64_t kind) {
    auto [an, na] = normalizeRows(a);
    auto [bn, nb] = normalizeRows(b);
    Tensor sim = torch::matmul(an, bn.t());
    Tensor logits = sim * scale;
    const int64_t n = logits.size(0);
    Tensor diag = logits.diagonal();
    const bool leaveOut = ContrastiveKind(kind) == ContrastiveKind::InfoLoob;
    // Both directions' log-sum-exps and d(sum of both CEs)/d logits = P + Q - 2I
    // (InfoLOOB: the positive left out of its denominator, P_ii = Q_ii = 0).
    Tensor rowLse, colLse, grad;
#ifdef EXP_WITH_CUDA
    if (logits.is_cuda() && logits.scalar_type() == torch::kFloat32) {
      gpu::ContrastiveCore core = gpu::contrastiveCore(logits, leaveOut);
      rowLse = core.rowLse;
      colLse = core.colLse;
      grad = core.grad;
    } else
#endif
    {
      // One exp per direction gives both the log-sum-exp and the softmax.
      Tensor masked = logits;
      if (leaveOut) {
        masked = logits.clone();
        masked.diagonal().fill_(-std::numeric_limits<double>::infinity());
      }
      auto [r, p] = softmaxWithLse(masked, 1);
      auto [c, q] = softmaxWithLse(masked, 0);
      rowLse = r;
      colLse = c;
      grad = p.add_(q);
      grad.diagonal().sub_(2.0);
    }
    Tensor loss;
    if (!leaveOut) {
      // CLIP: the mean of CE(L, I) and CE(L^T, I); dL = (P + Q - 2I) / 2N.
      loss = 0.5 * ((rowLse - diag).mean() + (colLse - diag).mean());
      grad.div_(2.0 * n);
    } else {
      // InfoLOOB: loss = (R + C) / scale.
      Tensor raw = (rowLse - diag).mean() + (colLse - diag).mean();
      loss = raw / scale;
      grad.div_(double(n) * scale);
      // The 1/scale factor's own derivative needs the unscaled loss.
      ctx->saved_data["raw"] = raw;
    }
    ctx->saved_data["kind"] = kind;
    ctx->save_for_backward({a, b, scale});
    for (auto [name, t] : {std::pair{"an", an}, {"bn", bn}, {"na", na}, {"nb", nb},
                           {"sim", sim}, {"grad", grad}})
      ctx->saved_data[name] = t;
    return loss;
  }

  static variable_list backward(AutogradContext *ctx, variable_list gradOut) {
    auto saved = ctx->get_saved_variables();
    const Tensor &a = saved[0], &b = saved[1], &scale = saved[2];
    auto get = [&](const char *name) { return ctx->saved_data[name].toTensor(); };
    Tensor an = get("an"), bn = get("bn"), na = get("na"), nb = get("nb");
    Tensor sim = get("sim"), grad = get("grad");
    Tensor g = gradOut[0];
    Tensor dScale = grad.reshape(-1).dot(sim.reshape(-1)) * g;
    if (ContrastiveKind(ctx->saved_data["kind"].toInt()) == ContrastiveKind::InfoLoob)
      dScale = dScale - g * ctx->saved_data["raw"].toTensor() / (scale * scale);
    Tensor dSim = grad * (g * scale);
    Tensor dA = normalizeBackward(torch::matmul(dSim, bn), an, na, a);
    Tensor dB = normalizeBackward(torch::matmul(dSim.t(), an), bn, nb, b);
    return {dA, dB, dScale.reshape(scale.sizes()), Tensor()};
  }
};

} // namespace

bool parseContrastiveKind(const std::string &name, ContrastiveKind &out) {
  if (name == "clip")
    out = ContrastiveKind::Clip;
  else if (name == "infoloob")
    out = ContrastiveKind::InfoLoob;
  else
    return false;
  return true;
}

torch::Tensor fusedContrastiveLoss(const torch::Tensor &a, const torch::Tensor &b,
                                   const torch::Tensor &scale, ContrastiveKind kind) {
  return FusedContrastive::apply(a, b, scale, static_cast<int64_t>(kind));
}

} // namespace exprt
