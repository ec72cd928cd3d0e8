#include "train/FusedAdamW.h"

#include "train/AdamState.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cmath>

namespace exprt {
namespace {

struct Coefficients {
  float decay, beta1, oneMinusBeta1, beta2, oneMinusBeta2, stepSize, invSqrtBias2, eps;
};

// p, m, v updated in place from g over [begin, end). Vectorises: the
// pointers do not alias and the file is built with -fno-math-errno (so sqrt
// is an instruction).
void adamwRange(float *__restrict p, const float *__restrict g, float *__restrict m,
                float *__restrict v, int64_t begin, int64_t end, const Coefficients c) {
  for (int64_t i = begin; i < end; ++i) {
    float gi = g[i];
    float mi = c.beta1 * m[i] + c.oneMinusBeta1 * gi;
    float vi = c.beta2 * v[i] + c.oneMinusBeta2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * c.decay - c.stepSize * mi / (std::sqrt(vi) * c.invSqrtBias2 + c.eps);
  }
}

void adamwPass(float *p, const float *g, float *m, float *v, int64_t n, const Coefficients &c) {
  at::parallel_for(0, n, 1 << 15, [=](int64_t begin, int64_t end) {
    adamwRange(p, g, m, v, begin, end, c);
  });
}

} // namespace

torch::Tensor FusedAdamW::step(LossClosure closure) {
  torch::Tensor loss = evaluateClosure(closure);
  torch::NoGradGuard noGrad;
  for (auto &group : param_groups()) {
    const auto &o = static_cast<const torch::optim::AdamWOptions &>(group.options());
    const double lr = o.lr(), beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
    for (torch::Tensor &p : group.params()) {
      if (!p.grad().defined())
        continue;
      auto &s = adamState<torch::optim::AdamWParamState>(*this, p);
      s.step(s.step() + 1);
      const double bias1 = 1 - std::pow(beta1, double(s.step()));
      const double bias2 = 1 - std::pow(beta2, double(s.step()));
      torch::Tensor g = p.grad();
      const bool fusable = p.device().is_cpu() && p.scalar_type() == torch::kFloat32 &&
                           p.is_contiguous() && s.exp_avg().is_contiguous() &&
                           s.exp_avg_sq().is_contiguous();
      if (!fusable) { // torch::optim::AdamW's formula, op by op
        p.mul_(1 - lr * o.weight_decay());
        s.exp_avg().mul_(beta1).add_(g, 1 - beta1);
        s.exp_avg_sq().mul_(beta2).addcmul_(g, g, 1 - beta2);
        torch::Tensor denom = (s.exp_avg_sq().sqrt() / std::sqrt(bias2)).add_(o.eps());
        p.addcdiv_(s.exp_avg(), denom, -lr / bias1);
        continue;
      }
      torch::Tensor gc = g.to(torch::kFloat32).contiguous();
      Coefficients c{static_cast<float>(1 - lr * o.weight_decay()),
                     static_cast<float>(beta1),
                     static_cast<float>(1 - beta1),
                     static_cast<float>(beta2),
                     static_cast<float>(1 - beta2),
                     static_cast<float>(lr / bias1),
                     static_cast<float>(1 / std::sqrt(bias2)),
                     static_cast<float>(o.eps())};
      adamwPass(p.data_ptr<float>(), gc.data_ptr<float>(), s.exp_avg().data_ptr<float>(),
                s.exp_avg_sq().data_ptr<float>(), p.numel(), c);
    }
  }
  return loss;
}

torch::Tensor FusedAdamW::nextCoefficients() {
  torch::Tensor out = torch::zeros({static_cast<int64_t>(param_groups().size()), 3}, torch::kFloat32);
  auto c = out.accessor<float, 2>();
  int64_t g = 0;
  for (auto &group : param_groups()) {
    const auto &o = static_cast<const torch::optim::AdamWOptions &>(group.options());
    const double lr = o.lr(), beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
    int64_t step = -1;
    for (torch::Tensor &p : group.params()) {
      if (!p.grad().defined()) // as `step`: a parameter without a gradient is not updated
        continue;
      auto &s = adamState<torch::optim::AdamWParamState>(*this, p);
      s.step(s.step() + 1);
      TORCH_CHECK(step < 0 || s.step() == step,
                  "FusedAdamW::nextCoefficients: parameters of one group at different steps");
      step = s.step();
    }
    if (step > 0) {
      c[g][0] = static_cast<float>(1 - lr * o.weight_decay());
      c[g][1] = static_cast<float>(lr / (1 - std::pow(beta1, double(step))));
      c[g][2] = static_cast<float>(1 / std::sqrt(1 - std::pow(beta2, double(step))));
    }
    ++g;
  }
  return out;
}

void FusedAdamW::stepWith(const torch::Tensor &coefficients) {
  torch::NoGradGuard noGrad;
  int64_t g = 0;
  for (auto &group : param_groups()) {
    const auto &o = static_cast<const torch::optim::AdamWOptions &>(group.options());
    const double beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
    const torch::Tensor decay = coefficients[g][0], stepSize = coefficients[g][1],
                        invSqrtBias2 = coefficients[g][2];
    ++g;
    for (torch::Tensor &p : group.params()) {
      if (!p.grad().defined())
        continue;
      auto &s = adamState<torch::optim::AdamWParamState>(*this, p);
      const torch::Tensor &grad = p.grad();
      p.mul_(decay);
      s.exp_avg().mul_(beta1).add_(grad, 1 - beta1);
      s.exp_avg_sq().mul_(beta2).addcmul_(grad, grad, 1 - beta2);
      p.sub_(s.exp_avg() / (s.exp_avg_sq().sqrt() * invSqrtBias2 + o.eps()) * stepSize);
    }
  }
}

} // namespace exprt
