// Debian's libtorch-dev ships c10/cuda's headers but not this one, which a
// CUDA build of LibTorch generates; check_cuda_sources.sh supplies it to
// compile the runtime's CUDA path against those headers (its value is that
// of the PyTorch wheels, whose c10_cuda is a shared library).
#pragma once
#define C10_CUDA_BUILD_SHARED_LIBS
