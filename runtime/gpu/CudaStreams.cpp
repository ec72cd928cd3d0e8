#include "gpu/CudaRuntime.h"

#include <ATen/cuda/CUDAGeneratorImpl.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/torch.h>

#include <mutex>
#include <optional>

namespace exprt::gpu {

void *currentStream(const torch::Device &device) {
  return c10::cuda::getCurrentCUDAStream(device.index()).stream();
}

struct StreamScope::Impl {
  c10::cuda::CUDAStreamGuard guard;
};

StreamScope::StreamScope(const torch::Device &device)
    : impl_(new Impl{c10::cuda::CUDAStreamGuard(c10::cuda::getStreamFromPool(false, device.index()))}) {}
StreamScope::~StreamScope() = default;

void onCopyStream(const torch::Device &device, const std::function<void()> &work) {
  // One copy stream per worker thread, so workers do not wait for each other.
  thread_local std::optional<c10::cuda::CUDAStream> stream;
  if (!stream || stream->device_index() != device.index())
    stream = c10::cuda::getStreamFromPool(false, device.index());
  {
    c10::cuda::CUDAStreamGuard guard(*stream);
    work();
  }
  stream->synchronize();
}

torch::Tensor pinnedToDevice(const torch::Tensor &t, const torch::Device &device) {
  if (t.device() == device)
    return t;
  return (t.is_pinned() ? t : t.pin_memory()).to(device, /*non_blocking=*/true);
}

void useOnCurrentStream(const torch::Tensor &t) {
  if (t.defined() && t.is_cuda())
    c10::cuda::CUDACachingAllocator::recordStream(t.storage().data_ptr(),
                                                  c10::cuda::getCurrentCUDAStream(t.device().index()));
}

torch::Tensor rngState(const torch::Device &device) {
  at::Generator g = at::cuda::detail::getDefaultCUDAGenerator(device.index());
  std::lock_guard<std::mutex> lock(g.mutex());
  return g.get_state();
}

void setRngState(const torch::Device &device, const torch::Tensor &state) {
  at::Generator g = at::cuda::detail::getDefaultCUDAGenerator(device.index());
  std::lock_guard<std::mutex> lock(g.mutex());
  g.set_state(state);
}

} // namespace exprt::gpu
