// Internal to parallel/: the NCCL process group (NcclGroup.cpp, CUDA builds).
#pragma once

#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <chrono>

namespace exprt {

c10::intrusive_ptr<c10d::ProcessGroup> makeNcclGroup(const c10::intrusive_ptr<c10d::Store> &store,
                                                     int rank, int size, std::chrono::milliseconds timeout);

} // namespace exprt
