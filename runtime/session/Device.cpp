#include "session/Device.h"

#include <regex>

namespace exprt {

Status resolveDevice(const std::string &spec, torch::Device &out) {
  if (spec == "cpu") {
    out = torch::Device(torch::kCPU);
    return Status::ok();
  }
  std::smatch m;
  static const std::regex cuda("cuda(?::([0-9]{1,3}))?");
  if (!std::regex_match(spec, m, cuda))
    return Status::error(ErrorKind::BadDevice, "device `" + spec + "` is not `cpu`, `cuda` or `cuda:N`");
  [[maybe_unused]] const int index = m[1].matched ? std::stoi(m[1].str()) : 0;
#ifndef EXP_WITH_CUDA
  return Status::error(ErrorKind::DeviceUnavailable, "device `" + spec +
                       "`: this runtime is built against a LibTorch without CUDA (Debian's "
                       "libtorch is CPU-only); build it against the PyTorch wheel's LibTorch on "
                       "the GPU machine and carry the plan there (docs/gpu.md)");
#else
  const int64_t count = torch::cuda::is_available() ? torch::cuda::device_count() : 0;
  if (count == 0)
    return Status::error(ErrorKind::DeviceUnavailable, "device `" + spec + "`: no CUDA device is visible to this process " +
                         "(check the driver and CUDA_VISIBLE_DEVICES)");
  if (index >= count)
    return Status::error(ErrorKind::DeviceUnavailable, "device `" + spec + "`: this machine has " + std::to_string(count) +
                         " CUDA device" + (count == 1 ? "" : "s") + " (cuda:0 .. cuda:" +
                         std::to_string(count - 1) + ")");
  out = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  return Status::ok();
#endif
}

Status checkDevice(const std::string &spec) {
  torch::Device device(torch::kCPU);
  return resolveDevice(spec, device);
}

} // namespace exprt
