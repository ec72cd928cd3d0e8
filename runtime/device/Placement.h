// Where a run's tensors live, and what runs there besides LibTorch's ops:
// on a CUDA device with a `cuda` plan, the generated kernels of the plan's
// elementwise groups (gpu/GeneratedGroups), and the device's services
// (DeviceRuntime, gpu/CudaDevice.cpp). The parameters carry it, so every
// executor of the run (training, precomputation, evaluation) sees it, and
// device-neutral code needs no #ifdef for the GPU.
#pragma once

#include "exprt/Status.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

namespace exprt {

struct Fusion;
class Collective;

// A batch's inputs by binding (data/Prefetch.h's Batch).
using TensorMap = std::map<std::string, torch::Tensor>;

// A training step captured once and replayed per batch (a CUDA graph).
class ReplayedStep {
public:
  virtual ~ReplayedStep() = default;
  // Whether `batch` has the captured one's bindings, shapes and dtypes (else
  // the caller runs that step eagerly).
  virtual bool accepts(const TensorMap &batch) const = 0;
  // Copies `batch` (which `accepts`) into the static inputs and replays.
  virtual void replay(const TensorMap &batch) = 0;
};

// What device-neutral code (the trainer) asks of an accelerator: its
// generator's state for checkpoints, batches placed there ahead of the step,
// the step's own stream and whole-step graphs. gpu/ implements it for CUDA
// devices; the CPU has none (Placement::runtime is null).
class DeviceRuntime {
public:
  virtual ~DeviceRuntime() = default;
  // Makes a stream of its own current for the owner's lifetime (the loop
  // runs there: CUDA graphs cannot capture the legacy default stream).
  virtual std::shared_ptr<void> streamScope() const = 0;
  virtual torch::Tensor rngState() const = 0;
  virtual void setRngState(const torch::Tensor &state) const = 0;
  // On a prefetch worker: copies `inputs` to the device (from pinned memory,
  // on the worker's copy stream), runs `prepare` there (augmentation), and
  // waits for that stream, so the step's stream never waits for a copy.
  virtual void placeBatch(TensorMap &inputs, const std::function<void()> &prepare) const = 0;
  // On the step's thread: the batch, allocated on a copy stream, is used on
  // the current one (the caching allocator must not reuse it early).
  virtual void adoptBatch(const TensorMap &inputs) const = 0;
  // `body` (forward, backward, update) captured once on a static copy of
  // `example`; null with `status` set when the device cannot capture it.
  virtual std::unique_ptr<ReplayedStep> capture(const TensorMap &example,
                                                const std::function<void(const TensorMap &)> &body,
                                                Status &status) const = 0;
};

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
  // The accelerator's services (streams, its generator, graphs); null: the CPU.
  std::shared_ptr<const DeviceRuntime> runtime;
};

} // namespace exprt
