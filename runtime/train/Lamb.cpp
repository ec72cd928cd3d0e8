#include "train/Lamb.h"

#include <torch/torch.h>

#include <cmath>

namespace exprt {

torch::Tensor Lamb::step(LossClosure closure) {
  torch::NoGradGuard noGrad;
  torch::Tensor loss;
  if (closure) {
    torch::AutoGradMode enable(true);
    loss = closure();
  }
  for (auto &group : param_groups()) {
    const auto &o = static_cast<const LambOptions &>(group.options());
    for (torch::Tensor &p : group.params()) {
      if (!p.grad().defined())
        continue;
      const torch::Tensor &g = p.grad();
      std::string key = c10::guts::to_string(p.unsafeGetTensorImpl());
      auto it = state().find(key);
      if (it == state().end()) {
        auto s = std::make_unique<LambParamState>();
        s->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        s->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        it = state().emplace(key, std::move(s)).first;
      }
      auto &s = static_cast<LambParamState &>(*it->second);
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
