// Where a run's tensors live, and what runs there besides LibTorch's ops:
// on a CUDA device with a `cuda` plan, the generated kernels of the plan's
// elementwise groups (gpu/GeneratedGroups). The parameters carry it, so
// every executor of the run (training, precomputation, evaluation) sees it.
#pragma once

#include <memory>
#include <vector>

#include <torch/types.h>

namespace exprt {

struct Fusion;
class Collective;

// Runs one elementwise group's fused kernels in place of its ops.
class GroupRunner {
public:
  virtual ~GroupRunner() = default;
  // The group's outputs (in `f.outputs` order) from its inputs (in
  // `f.inputs` order); false leaves `outputs` alone, and the executor runs
  // the group's ops one by one (a kernel-less group, or operands the kernels
  // do not take: other dtypes, broadcasting shapes).
  virtual bool run(const Fusion &f, const std::vector<torch::Tensor> &inputs,
                   std::vector<torch::Tensor> &outputs) const = 0;
};

struct Placement {
  torch::Device device{torch::kCPU};
  std::shared_ptr<const GroupRunner> groups; // null: every op through its LibTorch kernel
  // The data-parallel group (parallel/Collective.h); null: one process.
  // Contrastive losses gather their embeddings across it while training.
  std::shared_ptr<const Collective> collective;
};

} // namespace exprt
