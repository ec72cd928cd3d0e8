// The NCCL process group for a data-parallel run on CUDA devices: gradient
// all-reduces and embedding all-gathers of GPU tensors stay on the GPUs
// (Gloo would move them through the host). Built against a LibTorch with
// CUDA when nccl.h is found (EXP_WITH_NCCL); tests/CMakeLists.txt's
// cuda_sources_check compiles it against Debian's c10d headers and the CUDA
// toolkit's nccl.h elsewhere.
#include "parallel/NcclGroup.h"

#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#include <torch/version.h>

namespace exprt {

c10::intrusive_ptr<c10d::ProcessGroup> makeNcclGroup(const c10::intrusive_ptr<c10d::Store> &store,
                                                     int rank, int size, std::chrono::milliseconds timeout) {
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  auto nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, options);
#if TORCH_VERSION_MAJOR >= 2
  // LibTorch 2 splits process groups from their backends.
  auto group = c10::make_intrusive<c10d::ProcessGroup>(store, rank, size);
  group->setDefaultBackend(c10d::ProcessGroup::BackendType::NCCL);
  group->setBackend(c10::DeviceType::CUDA, c10d::ProcessGroup::BackendType::NCCL, nccl);
  return group;
#else
  return nccl;
#endif
}

} // namespace exprt
