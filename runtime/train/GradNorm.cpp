#include "train/GradNorm.h"

#include <torch/torch.h>

namespace exprt {

double gradientNorm(const std::vector<torch::Tensor> &params, double max) {
  if (max > 0)
    return torch::nn::utils::clip_grad_norm_(params, max);
  std::vector<torch::Tensor> norms;
  for (const torch::Tensor &p : params)
    if (p.grad().defined())
      norms.push_back(p.grad().norm());
  return norms.empty() ? 0.0 : torch::stack(norms).norm().item<double>();
}

torch::Tensor gradientNormTensor(const std::vector<torch::Tensor> &params, double max) {
  torch::NoGradGuard noGrad;
  std::vector<torch::Tensor> norms;
  for (const torch::Tensor &p : params)
    if (p.grad().defined())
      norms.push_back(p.grad().norm());
  if (norms.empty())
    return params.empty() ? torch::zeros({}) : torch::zeros({}, params[0].options().requires_grad(false));
  torch::Tensor total = torch::stack(norms).norm();
  if (max > 0) {
    torch::Tensor coefficient = (max / (total + 1e-6)).clamp_max(1.0);
    for (const torch::Tensor &p : params)
      if (p.grad().defined())
        p.grad().mul_(coefficient);
  }
  return total;
}

} // namespace exprt
