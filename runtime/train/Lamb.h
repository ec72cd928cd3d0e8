// LAMB (You et al., "Large Batch Optimization for Deep Learning", 2019), which
// LibTorch does not ship, as a torch::optim::Optimizer: Adam moments with bias
// correction, decoupled weight decay inside the update, and a per-tensor trust
// ratio ||w|| / ||update|| (1 when either norm is zero), as timm's Lamb.
#pragma once

#include <torch/optim/optimizer.h>

namespace exprt {

struct LambOptions : public torch::optim::OptimizerCloneableOptions<LambOptions> {
  LambOptions(double lr = 1e-3) : lr_(lr) {}
  TORCH_ARG(double, lr);
  TORCH_ARG(double, beta1) = 0.9;
  TORCH_ARG(double, beta2) = 0.999;
  TORCH_ARG(double, eps) = 1e-6;
  TORCH_ARG(double, weight_decay) = 0.01;

public:
  double get_lr() const override { return lr(); }
  void set_lr(const double v) override { lr(v); }
};

struct LambParamState : public torch::optim::OptimizerCloneableParamState<LambParamState> {
  TORCH_ARG(int64_t, step) = 0;
  TORCH_ARG(torch::Tensor, exp_avg);
  TORCH_ARG(torch::Tensor, exp_avg_sq);
};

class Lamb : public torch::optim::Optimizer {
public:
  Lamb(std::vector<torch::optim::OptimizerParamGroup> groups, LambOptions defaults)
      : Optimizer(std::move(groups), std::make_unique<LambOptions>(defaults)) {}
  torch::Tensor step(LossClosure closure = nullptr) override;
};

} // namespace exprt
