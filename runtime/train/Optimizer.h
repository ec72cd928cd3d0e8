// The plan's optimiser over the trainable parameters, in two groups: weight
// decay on weights, none on biases, norms and temperatures (the compiler marks
// which is which). Its state round-trips through named tensors for checkpoints.
#pragma once

#include "exec/GraphExecutor.h"

#include <map>
#include <memory>

namespace torch::optim {
class Optimizer;
}

namespace exprt {

class TrainOptimizer {
public:
  static Status create(const TrainSpec &spec, const ParameterStore &params,
                       std::unique_ptr<TrainOptimizer> &out);
  ~TrainOptimizer();

  double baseLr() const { return baseLr_; }
  // Sets the learning rate of every group (the schedule's value for a step).
  void setLr(double lr);
  void zeroGrad();
  void step();
  // A step a CUDA graph can capture (FusedAdamW::nextCoefficients and
  // stepWith): AdamW only.
  bool capturable() const;
  int64_t groupCount() const; // rows of nextCoefficients
  torch::Tensor nextCoefficients();
  void stepWith(const torch::Tensor &coefficients);

  // The state as tensors named `optim/PARAM/SLOT` (moments, momentum buffers;
  // step counts as int64 scalars). Parameters not yet stepped have none.
  void save(std::map<std::string, torch::Tensor> &out) const;
  // Restores what `save` wrote; errors name the missing or mis-shaped tensor.
  Status restore(const std::map<std::string, torch::Tensor> &in);

private:
  TrainOptimizer() = default;
  std::string kind_;
  double baseLr_ = 0;
  std::unique_ptr<torch::optim::Optimizer> opt_;
  std::vector<std::pair<std::string, torch::Tensor>> params_; // trainable, by name
};

} // namespace exprt
