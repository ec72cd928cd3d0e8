// The CUDA driver API, opened at run time (dlopen of libcuda.so.1), for
// loading a plan's PTX and launching its generated kernels. Opening it at
// run time keeps every binary loadable on machines without a GPU driver:
// they get a clear error instead of a missing-library failure at startup.
// Built only where the CUDA toolkit's headers are (cmake/ExpCuda.cmake).
#pragma once

#include "exprt/Status.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace exprt::gpu {

// One GPU's primary context, the driver's entry points, and a loaded PTX
// module. Not thread-safe; one per thread that launches.
class CudaDriver {
public:
  // Opens the driver and device `index`'s primary context; an error when no
  // driver is installed or no such device exists.
  static std::unique_ptr<CudaDriver> open(int index, Status &status);
  ~CudaDriver();

  // JIT-compiles `ptx` for this device (the driver's error log on failure).
  Status loadModule(const std::string &ptx);
  // Launches kernel `name` of the loaded module on `grid` x `block` threads
  // with `args` (pointers to each argument's value), and waits for it.
  Status launch(const std::string &name, unsigned grid, unsigned block, std::vector<void *> args);
  // Launches like `launch` on `stream` (a CUstream, which is a
  // cudaStream_t) without waiting: the runtime's later work on that stream
  // is ordered after it, and a CUDA graph being captured there records it.
  Status launchAsync(const std::string &name, unsigned grid, unsigned block,
                     std::vector<void *> &args, void *stream);

  // Device memory: allocations, copies in and out (synchronous).
  Status alloc(size_t bytes, uint64_t &ptr);
  void free(uint64_t ptr);
  Status toDevice(uint64_t dst, const void *src, size_t bytes);
  Status toHost(void *dst, uint64_t src, size_t bytes);

  std::string deviceName() const { return name_; }

  struct Api; // the resolved entry points

private:
  CudaDriver() = default;
  Status check(int result, const char *what) const;
  Status function(const std::string &name, void *&out);

  void *library_ = nullptr;
  std::unique_ptr<Api> api_;
  int device_ = 0;
  void *context_ = nullptr, *module_ = nullptr;
  std::string name_;
  std::map<std::string, void *> functions_; // the module's kernels, looked up once
};

} // namespace exprt::gpu
