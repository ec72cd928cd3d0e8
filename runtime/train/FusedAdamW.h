// AdamW with one fused, multi-threaded pass per parameter: weight decay, both
// moment updates and the parameter update read and write each element once.
// LibTorch 1.13's AdamW makes about ten passes over every tensor; for a
// CellCLIP-sized head that is a third of a CPU training step
// (benchmarks/train_step). Same formula as torch::optim::AdamW (decoupled
// weight decay, bias-corrected moments, no amsgrad) and the same state
// (AdamWParamState), so checkpoints do not care which ran.
#pragma once

#include <torch/optim/adamw.h>

namespace exprt {

class FusedAdamW : public torch::optim::Optimizer {
public:
  FusedAdamW(std::vector<torch::optim::OptimizerParamGroup> groups,
             torch::optim::AdamWOptions defaults)
      : Optimizer(std::move(groups), std::make_unique<torch::optim::AdamWOptions>(defaults)) {}
  torch::Tensor step(LossClosure closure = nullptr) override;

  // A step split for CUDA graphs, whose captured kernels cannot read host
  // scalars that change per step (the learning rate, the bias corrections).
  // `nextCoefficients` advances the step count of every parameter with a
  // gradient on the host and
  // returns the next update's per-group scalars as a float32 [groups, 3]
  // CPU tensor: decay 1 - lr wd, step size lr / (1 - beta1^t) and
  // 1 / sqrt(1 - beta2^t). `stepWith` applies that update from those
  // scalars wherever they live (a device tensor the caller refills before
  // each replay), with no host work per step. Together they equal `step`.
  // The step count must be the same for every parameter of a group (true
  // when every parameter gets a gradient each step).
  torch::Tensor nextCoefficients();
  void stepWith(const torch::Tensor &coefficients);
};

} // namespace exprt
