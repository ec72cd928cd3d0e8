// Executes one plan graph: binds dataset columns to its inputs and runs its
// ops in order through their kernels. Autograd records the graph when any
// parameter requires gradients.
#pragma once

#include "device/Placement.h"
#include "plan/Plan.h"

#include <map>
#include <torch/types.h>

namespace exprt {

// The plan's parameters as tensors, initialised from a seed, on the run's
// device.
class ParameterStore {
public:
  // Creates every parameter of `plan`, initialised deterministically from
  // `seed` (drawn on the CPU, so every device starts from the same values),
  // on `placement.device`.
  void initialise(const std::vector<ParameterSpec> &specs, uint64_t seed,
                  Placement placement = {});
  const Placement &placement() const { return placement_; }
  const torch::Device &device() const { return placement_.device; }
  torch::Tensor get(const std::string &name) const { return tensors_.at(name); }
  const std::vector<ParameterSpec> &specs() const { return specs_; }
  // The parameters the optimiser updates (all but frozen ones).
  std::vector<torch::Tensor> trainable() const;
  // Applies each parameter's `max` clamp (after an optimiser step).
  void clamp();

private:
  std::vector<ParameterSpec> specs_;
  std::map<std::string, torch::Tensor> tensors_;
  Placement placement_;
};

class GraphExecutor {
public:
  GraphExecutor(const Graph &graph, ParameterStore &params) : graph_(graph), params_(params) {}
  // `columns` maps each input's binding (a column name, or the features it
  // reads) to a batch tensor (copied to the parameters' device when it is
  // elsewhere); returns the graph's outputs, on that device. Elementwise
  // groups run through the placement's generated kernels when it has them.
  std::vector<torch::Tensor> run(const std::map<std::string, torch::Tensor> &columns) const;
  // Runs like `run`, op by op, and returns the index of the first op whose
  // result is not finite, ops.size() + i when input i is not, or -1 (for
  // fault messages).
  int64_t firstNonFinite(const std::map<std::string, torch::Tensor> &columns) const;
  const Graph &graph() const { return graph_; }
  const torch::Device &device() const { return params_.device(); }
  // Fault injection for tests (EXP_INJECT_NAN): op `op`'s result becomes NaN
  // in the following runs; -1 turns it off.
  void injectNaN(int64_t op) { poison_ = op; }
  // Inference: dropout passes its input through (validation losses).
  void setInference(bool on) { inference_ = on; }

private:
  const Graph &graph_;
  ParameterStore &params_;
  int64_t poison_ = -1;
  bool inference_ = false;
};

} // namespace exprt
