// The compiler's generated kernels (compiler/codegen/FusionKernels) run as
// the executor's elementwise groups: a group's forward kernel in an autograd
// node whose backward is the group's `_grad` kernel, both launched through
// the driver API on the current stream. The ABI is docs/gpu.md's:
// fusion_K(in.., out.., n) and fusion_K_grad(in.., gout.., gin.., n), float32,
// one element per thread, a rank-0 input read at [0] and its gradient
// written per element (summed here).
#include "gpu/CudaRuntime.h"

#include "gpu/CudaDriver.h"
#include "plan/Plan.h"

#include <torch/torch.h>

#include <mutex>

namespace exprt::gpu {
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class CudaGroups final : public GroupRunner {
public:
  CudaGroups(std::unique_ptr<CudaDriver> driver, int64_t block, torch::Device device)
      : driver_(std::move(driver)), block_(block), device_(device) {}

  bool run(const Fusion &f, const std::vector<Tensor> &inputs,
           std::vector<Tensor> &outputs) const override;

  // Launches `kernel` over n elements with `buffers` (device float32, in ABI order).
  void launch(const std::string &kernel, int64_t n, const std::vector<Tensor> &buffers) const {
    std::vector<uint64_t> ptrs;
    for (const Tensor &t : buffers)
      ptrs.push_back(reinterpret_cast<uint64_t>(t.data_ptr()));
    std::vector<void *> args;
    for (uint64_t &p : ptrs)
      args.push_back(&p);
    args.push_back(&n);
    const unsigned grid = static_cast<unsigned>((n + block_ - 1) / block_);
    std::lock_guard<std::mutex> lock(mutex_);
    Status s = driver_->launchAsync(kernel, grid, static_cast<unsigned>(block_), args,
                                    currentStream(device_));
    TORCH_CHECK(bool(s), s.message());
  }

private:
  std::unique_ptr<CudaDriver> driver_;
  int64_t block_;
  torch::Device device_;
  mutable std::mutex mutex_; // the driver's function cache
};

// The element count and shape of a group over `inputs`: the one shape every
// non-scalar input has. False when they differ (broadcasting), when there
// is none, or when an input is not float32 on `device`.
bool groupShape(const std::vector<Tensor> &inputs, const torch::Device &device,
                std::vector<int64_t> &sizes) {
  bool found = false;
  for (const Tensor &t : inputs) {
    if (!t.defined() || t.device() != device || t.scalar_type() != torch::kFloat32)
      return false;
    if (t.dim() == 0)
      continue;
    if (found && t.sizes() != c10::IntArrayRef(sizes))
      return false;
    sizes = t.sizes().vec();
    found = true;
  }
  return found;
}

struct GroupFunction : torch::autograd::Function<GroupFunction> {
  static variable_list forward(AutogradContext *ctx, variable_list inputs, const CudaGroups *groups,
                               const Fusion *f, std::vector<int64_t> sizes) {
    for (Tensor &t : inputs)
      t = t.contiguous();
    const Tensor &like = *std::find_if(inputs.begin(), inputs.end(), [](const Tensor &t) { return t.dim() > 0; });
    variable_list outputs;
    for (size_t j = 0; j < f->outputs.size(); ++j)
      outputs.push_back(torch::empty(sizes, like.options()));
    std::vector<Tensor> buffers = inputs;
    buffers.insert(buffers.end(), outputs.begin(), outputs.end());
    groups->launch(f->kernel, like.numel(), buffers);
    ctx->save_for_backward(inputs);
    ctx->saved_data["groups"] = reinterpret_cast<int64_t>(groups);
    ctx->saved_data["fusion"] = reinterpret_cast<int64_t>(f);
    ctx->saved_data["sizes"] = sizes;
    return outputs;
  }

  static variable_list backward(AutogradContext *ctx, variable_list gradOutputs) {
    const auto *groups = reinterpret_cast<const CudaGroups *>(ctx->saved_data["groups"].toInt());
    const auto *f = reinterpret_cast<const Fusion *>(ctx->saved_data["fusion"].toInt());
    const std::vector<int64_t> sizes = ctx->saved_data["sizes"].toIntVector();
    variable_list inputs = ctx->get_saved_variables();
    const Tensor &like = *std::find_if(inputs.begin(), inputs.end(), [](const Tensor &t) { return t.dim() > 0; });
    std::vector<Tensor> buffers = inputs;
    for (const Tensor &g : gradOutputs) // an unused output's gradient is undefined: zeros
      buffers.push_back(g.defined() ? g.to(torch::kFloat32).contiguous() : torch::zeros(sizes, like.options()));
    std::vector<Tensor> perElement;
    for (size_t k = 0; k < inputs.size(); ++k)
      perElement.push_back(torch::empty(sizes, like.options()));
    buffers.insert(buffers.end(), perElement.begin(), perElement.end());
    groups->launch(f->kernel + "_grad", like.numel(), buffers);
    variable_list grads;
    for (size_t k = 0; k < inputs.size(); ++k)
      grads.push_back(inputs[k].dim() == 0 ? perElement[k].sum() : perElement[k]);
    grads.resize(inputs.size() + 3); // no gradient for groups, f, sizes
    return grads;
  }
};

bool CudaGroups::run(const Fusion &f, const std::vector<Tensor> &inputs,
                     std::vector<Tensor> &outputs) const {
  std::vector<int64_t> sizes;
  if (f.kernel.empty() || !groupShape(inputs, device_, sizes))
    return false;
  outputs = GroupFunction::apply(variable_list(inputs.begin(), inputs.end()), this, &f, sizes);
  return true;
}

} // namespace

std::shared_ptr<const GroupRunner> loadGeneratedGroups(const GpuKernels &kernels,
                                                       const torch::Device &device, Status &status) {
  std::unique_ptr<CudaDriver> driver = CudaDriver::open(device.index(), status);
  if (!driver)
    return nullptr;
  if (status = driver->loadModule(kernels.ptx); !status) {
    status = Status::error(ErrorKind::DeviceFailure, "the plan's kernels (PTX for " + kernels.arch + ") do not load on " +
                           driver->deviceName() + ": " + status.message() +
                           "; compile for this GPU with `exp compile --target cuda --gpu-arch sm_XX`");
    return nullptr;
  }
  status = Status::ok();
  return std::make_shared<CudaGroups>(std::move(driver), kernels.block, device);
}

} // namespace exprt::gpu
