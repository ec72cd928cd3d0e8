// The fused contrastive loss's N x N part on a CUDA device: the hand-written
// kernels (ContrastiveKernels.cu) on the current stream, in place of the
// CPU path's exp, max and sum passes (losses/FusedLosses.cpp).
#include "losses/ContrastiveKernels.h"
#include "gpu/CudaRuntime.h"

#include <torch/torch.h>

namespace exprt::gpu {

ContrastiveCore contrastiveCore(const torch::Tensor &logits, bool leaveOut) {
  TORCH_CHECK(logits.is_cuda() && logits.scalar_type() == torch::kFloat32 && logits.dim() == 2 &&
                  logits.size(0) == logits.size(1),
              "contrastiveCore: expects square float32 logits on a CUDA device");
  const torch::Tensor l = logits.contiguous();
  const int64_t n = l.size(0);
  ContrastiveCore out{torch::empty({n}, l.options()), torch::empty({n}, l.options()),
                      torch::empty_like(l)};
  void *stream = currentStream(l.device());
  const char *error = contrastiveLse(l.data_ptr<float>(), n, leaveOut, out.rowLse.data_ptr<float>(),
                                     out.colLse.data_ptr<float>(), stream);
  if (!error)
    error = contrastiveGrad(l.data_ptr<float>(), out.rowLse.data_ptr<float>(),
                            out.colLse.data_ptr<float>(), n, leaveOut, 1.0f,
                            out.grad.data_ptr<float>(), stream);
  TORCH_CHECK(error == nullptr, "the fused contrastive loss's CUDA kernels failed: ", error);
  return out;
}

} // namespace exprt::gpu
