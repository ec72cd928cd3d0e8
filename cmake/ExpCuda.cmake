# CUDA, in three independent parts (docs/gpu.md):
#  - ptxas (EXP_PTXAS) assembles the compiler's generated PTX at build time
#    and in tests, so a bad kernel fails here even without a GPU;
#  - nvcc builds the hand-written kernels (runtime/gpu/*.cu) wherever a CUDA
#    toolkit is installed, CPU-only machines included (EXP_HAVE_NVCC);
#  - only a LibTorch with CUDA (the PyTorch wheel's; Debian's is CPU-only)
#    lets the runtime run on a GPU (EXP_WITH_CUDA), and then the kernels are
#    linked into it.
option(EXP_CUDA "build the CUDA kernels and checks when a CUDA toolkit is found" ON)
set(EXP_CUDA_HOME "$ENV{CUDA_HOME}")
if(NOT EXP_CUDA_HOME)
  set(EXP_CUDA_HOME /usr/local/cuda)
endif()
set(EXP_HAVE_NVCC OFF)
unset(EXP_PTXAS)
if(EXP_CUDA)
  find_program(EXP_PTXAS ptxas HINTS ${EXP_CUDA_HOME}/bin NO_CACHE)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS ${EXP_CUDA_HOME}/bin/nvcc)
    set(CMAKE_CUDA_COMPILER ${EXP_CUDA_HOME}/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    # sm_80 and sm_90 machine code, and sm_90 PTX for newer GPUs.
    if(NOT CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 80-real 90)
    endif()
    set(CMAKE_CUDA_STANDARD 17)
    enable_language(CUDA)
    set(EXP_HAVE_NVCC ON)
  endif()
endif()
if(NOT EXP_PTXAS)
  set(EXP_PTXAS "")
endif()
message(STATUS "exp: CUDA kernels ${EXP_HAVE_NVCC} (nvcc ${CMAKE_CUDA_COMPILER}), ptxas '${EXP_PTXAS}'")
