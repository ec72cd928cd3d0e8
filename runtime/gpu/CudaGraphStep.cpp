// Whole-step CUDA graphs: the training step's kernels (forward, backward,
// clipping, optimiser update) captured once into one graph and replayed per
// batch, so a step costs one launch instead of thousands. Replays read the
// static input tensors captured here; each batch is copied into them first.
#include "gpu/CudaRuntime.h"

#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <optional>

namespace exprt::gpu {

struct CapturedStep::Impl {
  at::cuda::CUDAGraph graph;
  Batch inputs; // static: what the captured kernels read
};

CapturedStep::CapturedStep() : impl_(std::make_unique<Impl>()) {}
CapturedStep::~CapturedStep() = default;

std::unique_ptr<CapturedStep> CapturedStep::capture(const torch::Device &device,
                                                    const Batch &example,
                                                    const std::function<void(const Batch &)> &body,
                                                    Status &status) {
  std::unique_ptr<CapturedStep> step(new CapturedStep());
  for (const auto &[binding, t] : example)
    step->impl_->inputs[binding] = t.to(device).clone();
  // Capture cannot happen on the legacy default stream; the trainer's loop
  // runs on a pool stream already (StreamScope), this makes sure.
  std::optional<c10::cuda::CUDAStreamGuard> side;
  if (c10::cuda::getCurrentCUDAStream(device.index()) == c10::cuda::getDefaultCUDAStream(device.index()))
    side.emplace(c10::cuda::getStreamFromPool(false, device.index()));
  try {
    c10::cuda::device_synchronize(); // as torch.cuda.graph does: nothing in flight at capture
#if TORCH_VERSION_MAJOR >= 2
    // Thread-local capture: the prefetch workers keep copying batches on
    // their own streams meanwhile.
    step->impl_->graph.capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
#else
    step->impl_->graph.capture_begin();
#endif
    body(step->impl_->inputs);
    step->impl_->graph.capture_end();
  } catch (const std::exception &e) {
    std::string what = e.what();
    status = Status::error(ErrorKind::DeviceFailure, "capturing the training step as a CUDA graph failed: " +
                           what.substr(0, what.find('\n')) +
                           " (EXP_CUDA_GRAPHS=0 runs the steps without graphs)");
    return nullptr;
  }
  status = Status::ok();
  return step;
}

bool CapturedStep::accepts(const Batch &batch) const {
  if (batch.size() != impl_->inputs.size())
    return false;
  for (const auto &[binding, t] : batch) {
    auto it = impl_->inputs.find(binding);
    if (it == impl_->inputs.end() || it->second.sizes() != t.sizes() ||
        it->second.scalar_type() != t.scalar_type())
      return false;
  }
  return true;
}

void CapturedStep::replay(const Batch &batch) {
  torch::NoGradGuard noGrad;
  for (const auto &[binding, t] : batch)
    impl_->inputs.at(binding).copy_(t, /*non_blocking=*/true);
  impl_->graph.replay();
}

} // namespace exprt::gpu
