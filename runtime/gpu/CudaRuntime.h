// The runtime's CUDA path, behind an interface free of CUDA headers, so the
// device-neutral code (the trainer, the session, the fused losses) calls it
// without including them. Built and linked only against a LibTorch with CUDA
// (EXP_WITH_CUDA, cmake/ExpCuda.cmake); callers guard their calls with it.
// Each function takes a CUDA `device`.
#pragma once

#include "device/Placement.h"
#include "exprt/Status.h"

#include <functional>
#include <map>
#include <memory>
#include <string>

#include <torch/types.h>

namespace exprt {
struct GpuKernels;
} // namespace exprt

namespace exprt::gpu {

// --- streams and batches (CudaStreams.cpp) ---

// The current stream of `device`, as a cudaStream_t.
void *currentStream(const torch::Device &device);

// Makes a stream from the pool current on `device` for its lifetime: the
// training loop runs there, since CUDA graphs cannot capture the legacy
// default stream.
class StreamScope {
public:
  explicit StreamScope(const torch::Device &device);
  ~StreamScope();
  StreamScope(const StreamScope &) = delete;
  StreamScope &operator=(const StreamScope &) = delete;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Runs `work` with this thread's copy stream current, then waits for that
// stream, in this thread. A prefetch worker copies its batch there (from
// pinned memory, see pinnedToDevice) and augments it on the GPU, so the
// step's stream never waits for a copy.
void onCopyStream(const torch::Device &device, const std::function<void()> &work);
// `t` copied to `device` through pinned host memory, without blocking the host.
torch::Tensor pinnedToDevice(const torch::Tensor &t, const torch::Device &device);
// Tells the caching allocator that the current stream uses `t`'s memory
// (allocated on a copy stream), so it is not reused before that stream is done.
void useOnCurrentStream(const torch::Tensor &t);

// The device generator's state (dropout, the MAE mask on the GPU), for checkpoints.
torch::Tensor rngState(const torch::Device &device);
void setRngState(const torch::Device &device, const torch::Tensor &state);

// The device's services behind device/Placement.h's interface (CudaDevice.cpp).
std::shared_ptr<const DeviceRuntime> cudaDeviceRuntime(const torch::Device &device);

// --- generated kernels (GeneratedGroups.cpp) ---

// Loads a `cuda` plan's PTX on `device` through the driver API; its runner
// launches each group's kernel pair on the current stream, as one autograd
// node. Errors name the plan's arch when the driver cannot load the PTX.
std::shared_ptr<const GroupRunner> loadGeneratedGroups(const GpuKernels &kernels,
                                                       const torch::Device &device, Status &status);

// --- the fused contrastive loss (CudaLosses.cpp) ---

// Of the n x n float32 `logits` on a CUDA device: row and column
// log-sum-exps (the diagonal left out when `leaveOut`) and the unscaled
// gradient P + Q - 2I (losses/ContrastiveKernels.cu).
struct ContrastiveCore {
  torch::Tensor rowLse, colLse, grad;
};
ContrastiveCore contrastiveCore(const torch::Tensor &logits, bool leaveOut);

// --- whole-step CUDA graphs (CudaGraphStep.cpp) ---

// One training step (forward, backward, clipping, optimiser update)
// captured once and replayed per batch. `body` runs once, during capture,
// on the static copy of `example`; whatever tensors it leaves (the loss, the
// gradient norm) are refreshed by each replay.
class CapturedStep {
public:
  using Batch = std::map<std::string, torch::Tensor>;
  static std::unique_ptr<CapturedStep> capture(const torch::Device &device, const Batch &example,
                                               const std::function<void(const Batch &)> &body,
                                               Status &status);
  ~CapturedStep();
  // Whether `batch` has the captured one's bindings, shapes and dtypes (else
  // the caller runs that step eagerly).
  bool accepts(const Batch &batch) const;
  // Copies `batch` (which `accepts`) into the static inputs and replays.
  void replay(const Batch &batch);

private:
  CapturedStep();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace exprt::gpu
