// A CUDA device's services for device-neutral code (device/Placement.h,
// DeviceRuntime), over the functions of CudaStreams.cpp and CudaGraphStep.cpp.
#include "gpu/CudaRuntime.h"

namespace exprt::gpu {
namespace {

class CudaReplayedStep : public ReplayedStep {
public:
  explicit CudaReplayedStep(std::unique_ptr<CapturedStep> step) : step_(std::move(step)) {}
  bool accepts(const TensorMap &batch) const override { return step_->accepts(batch); }
  void replay(const TensorMap &batch) override { step_->replay(batch); }

private:
  std::unique_ptr<CapturedStep> step_;
};

class CudaDeviceRuntime : public DeviceRuntime {
public:
  explicit CudaDeviceRuntime(const torch::Device &device) : device_(device) {}
  std::shared_ptr<void> streamScope() const override { return std::make_shared<StreamScope>(device_); }
  torch::Tensor rngState() const override { return gpu::rngState(device_); }
  void setRngState(const torch::Tensor &state) const override {
    if (state.defined())
      gpu::setRngState(device_, state);
  }
  void placeBatch(TensorMap &inputs, const std::function<void()> &prepare) const override {
    onCopyStream(device_, [&] {
      for (auto &entry : inputs)
        entry.second = pinnedToDevice(entry.second, device_);
      prepare();
    });
  }
  void adoptBatch(const TensorMap &inputs) const override {
    for (const auto &entry : inputs)
      useOnCurrentStream(entry.second);
  }
  std::unique_ptr<ReplayedStep> capture(const TensorMap &example, const std::function<void(const TensorMap &)> &body,
                                        Status &status) const override {
    std::unique_ptr<CapturedStep> step = CapturedStep::capture(device_, example, body, status);
    if (!step)
      return nullptr;
    return std::make_unique<CudaReplayedStep>(std::move(step));
  }

private:
  torch::Device device_;
};

} // namespace

std::shared_ptr<const DeviceRuntime> cudaDeviceRuntime(const torch::Device &device) {
  return std::make_shared<CudaDeviceRuntime>(device);
}

} // namespace exprt::gpu
