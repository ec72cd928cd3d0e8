#include "gpu/CudaDriver.h"

#include <cuda.h>
#include <dlfcn.h>

namespace exprt::gpu {

struct CudaDriver::Api {
  decltype(&::cuInit) init;
  decltype(&::cuDeviceGetCount) deviceGetCount;
  decltype(&::cuDeviceGet) deviceGet;
  decltype(&::cuDeviceGetName) deviceGetName;
  decltype(&::cuDevicePrimaryCtxRetain) primaryCtxRetain;
  decltype(&::cuDevicePrimaryCtxRelease) primaryCtxRelease;
  decltype(&::cuCtxSetCurrent) ctxSetCurrent;
  decltype(&::cuCtxSynchronize) ctxSynchronize;
  decltype(&::cuModuleLoadDataEx) moduleLoadDataEx;
  decltype(&::cuModuleUnload) moduleUnload;
  decltype(&::cuModuleGetFunction) moduleGetFunction;
  decltype(&::cuMemAlloc) memAlloc;
  decltype(&::cuMemFree) memFree;
  decltype(&::cuMemcpyHtoD) memcpyHtoD;
  decltype(&::cuMemcpyDtoH) memcpyDtoH;
  decltype(&::cuLaunchKernel) launchKernel;
  decltype(&::cuGetErrorString) getErrorString;
};

Status CudaDriver::check(int result, const char *what) const {
  if (result == CUDA_SUCCESS)
    return Status::ok();
  const char *text = nullptr;
  if (api_ && api_->getErrorString)
    api_->getErrorString(static_cast<CUresult>(result), &text);
  return Status::error(ErrorKind::DeviceFailure, std::string("CUDA driver: ") + what + " failed: " +
                       (text ? text : "error " + std::to_string(result)));
}

std::unique_ptr<CudaDriver> CudaDriver::open(int index, Status &status) {
  std::unique_ptr<CudaDriver> d(new CudaDriver());
  d->library_ = ::dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!d->library_) {
    status = Status::error(ErrorKind::DeviceUnavailable, "no CUDA driver on this machine (libcuda.so.1: " +
                           std::string(::dlerror()) + ")");
    return nullptr;
  }
  d->api_ = std::make_unique<Api>();
  Api &a = *d->api_;
  // The versioned names are what cuda.h's macros (cuMemAlloc -> _v2) mean.
  auto sym = [&](auto &fn, const char *name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(d->library_, name));
    return fn != nullptr;
  };
  bool ok = sym(a.init, "cuInit") && sym(a.deviceGetCount, "cuDeviceGetCount") &&
            sym(a.deviceGet, "cuDeviceGet") && sym(a.deviceGetName, "cuDeviceGetName") &&
            sym(a.primaryCtxRetain, "cuDevicePrimaryCtxRetain") &&
            sym(a.primaryCtxRelease, "cuDevicePrimaryCtxRelease_v2") &&
            sym(a.ctxSetCurrent, "cuCtxSetCurrent") && sym(a.ctxSynchronize, "cuCtxSynchronize") &&
            sym(a.moduleLoadDataEx, "cuModuleLoadDataEx") && sym(a.moduleUnload, "cuModuleUnload") &&
            sym(a.moduleGetFunction, "cuModuleGetFunction") && sym(a.memAlloc, "cuMemAlloc_v2") &&
            sym(a.memFree, "cuMemFree_v2") && sym(a.memcpyHtoD, "cuMemcpyHtoD_v2") &&
            sym(a.memcpyDtoH, "cuMemcpyDtoH_v2") && sym(a.launchKernel, "cuLaunchKernel") &&
            sym(a.getErrorString, "cuGetErrorString");
  if (!ok) {
    status = Status::error(ErrorKind::DeviceUnavailable, "the CUDA driver (libcuda.so.1) lacks an entry point this runtime "
                           "needs; it is older than CUDA 11");
    return nullptr;
  }
  int count = 0;
  if (!(status = d->check(a.init(0), "cuInit")) ||
      !(status = d->check(a.deviceGetCount(&count), "cuDeviceGetCount")))
    return nullptr;
  if (index < 0 || index >= count) {
    status = Status::error(ErrorKind::DeviceUnavailable, "CUDA device " + std::to_string(index) + " does not exist (" +
                           std::to_string(count) + " visible)");
    return nullptr;
  }
  CUdevice dev = 0;
  CUcontext ctx = nullptr;
  char name[256] = {};
  if (!(status = d->check(a.deviceGet(&dev, index), "cuDeviceGet")) ||
      !(status = d->check(a.deviceGetName(name, sizeof name, dev), "cuDeviceGetName")) ||
      !(status = d->check(a.primaryCtxRetain(&ctx, dev), "cuDevicePrimaryCtxRetain")))
    return nullptr;
  d->device_ = dev;
  d->context_ = ctx;
  d->name_ = name;
  if (!(status = d->check(a.ctxSetCurrent(ctx), "cuCtxSetCurrent")))
    return nullptr;
  status = Status::ok();
  return d;
}

CudaDriver::~CudaDriver() {
  if (api_ && module_)
    api_->moduleUnload(static_cast<CUmodule>(module_));
  if (api_ && context_)
    api_->primaryCtxRelease(device_);
  if (library_)
    ::dlclose(library_);
}

Status CudaDriver::loadModule(const std::string &ptx) {
  char log[8192] = {};
  CUjit_option options[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *values[] = {log, reinterpret_cast<void *>(sizeof log)};
  CUmodule m = nullptr;
  Status s = check(api_->moduleLoadDataEx(&m, ptx.c_str(), 2, options, values), "loading the PTX");
  if (!s)
    return s.reworded(s.message() + (log[0] ? std::string(": ") + log : ""));
  module_ = m;
  return Status::ok();
}

Status CudaDriver::function(const std::string &name, void *&out) {
  if (auto it = functions_.find(name); it != functions_.end()) {
    out = it->second;
    return Status::ok();
  }
  CUfunction f = nullptr;
  if (Status s = check(api_->moduleGetFunction(&f, static_cast<CUmodule>(module_), name.c_str()),
                       ("finding kernel `" + name + "`").c_str());
      !s)
    return s;
  out = functions_[name] = f;
  return Status::ok();
}

Status CudaDriver::launchAsync(const std::string &name, unsigned grid, unsigned block,
                               std::vector<void *> &args, void *stream) {
  void *f = nullptr;
  if (Status s = function(name, f); !s)
    return s;
  // The calling thread may not have made the context current yet (the
  // runtime API makes the same primary context current lazily).
  if (Status s = check(api_->ctxSetCurrent(static_cast<CUcontext>(context_)), "cuCtxSetCurrent"); !s)
    return s;
  return check(api_->launchKernel(static_cast<CUfunction>(f), grid, 1, 1, block, 1, 1, 0,
                                  static_cast<CUstream>(stream), args.data(), nullptr),
               ("launching `" + name + "`").c_str());
}

Status CudaDriver::launch(const std::string &name, unsigned grid, unsigned block,
                          std::vector<void *> args) {
  if (Status s = launchAsync(name, grid, block, args, nullptr); !s)
    return s;
  return check(api_->ctxSynchronize(), ("running `" + name + "`").c_str());
}

Status CudaDriver::alloc(size_t bytes, uint64_t &ptr) {
  CUdeviceptr p = 0;
  Status s = check(api_->memAlloc(&p, bytes), "cuMemAlloc");
  ptr = p;
  return s;
}

void CudaDriver::free(uint64_t ptr) { api_->memFree(static_cast<CUdeviceptr>(ptr)); }

Status CudaDriver::toDevice(uint64_t dst, const void *src, size_t bytes) {
  return check(api_->memcpyHtoD(static_cast<CUdeviceptr>(dst), src, bytes), "cuMemcpyHtoD");
}

Status CudaDriver::toHost(void *dst, uint64_t src, size_t bytes) {
  return check(api_->memcpyDtoH(dst, static_cast<CUdeviceptr>(src), bytes), "cuMemcpyDtoH");
}

} // namespace exprt::gpu
