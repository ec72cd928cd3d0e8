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
};

} // namespace exprt
