#include "train/Lamb.h"

#include "train/AdamState.h"

#include <torch/torch.h>

#include <cmath>

namespace exprt {

torch::Tensor Lamb::step(LossClosure closure) {
  torch::Tensor loss = evaluateClosure(closure);
  torch::NoGradGuard noGrad;
  for (auto &group : param_groups()) {
    const auto &o = static_cast<const LambOptions &>(group.options());
    for (torch::Tensor &p : group.params()) {
      if (!p.grad().defined())
        continue;
      const torch::Tensor &g = p.grad();
      auto &s = adamState<LambParamState>(*this, p);
      s.step(s.step() + 1);
      s.exp_avg().mul_(o.beta1()).add_(g, 1 - o.beta1());
      s.exp_avg_sq().mul_(o.beta2()).addcmul_(g, g, 1 - o.beta2());
      double c1 = 1 - std::pow(o.beta1(), double(s.step()));
      double c2 = 1 - std::pow(o.beta2(), double(s.step()));
      torch::Tensor update = (s.exp_avg() / c1) / ((s.exp_avg_sq() / c2).sqrt() + o.eps());
      if (o.weight_decay() != 0)
        update.add_(p, o.weight_decay());
      double wNorm = p.norm().item<double>(), uNorm = update.norm().item<double>();
      double trust = wNorm > 0 && uNorm > 0 ? wNorm / uNorm : 1.0;
      p.add_(update, -o.lr() * trust);
    }
  }
  return loss;
}

} // namespace exprt
