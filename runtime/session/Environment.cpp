// What a run ran on (Session::environmentJson): versions, CPU, memory,
// threads, OS — the "environment" part of the run record.
#include "exprt/Runtime.h"

#include "features/Features.h"
#include "plan/Plan.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <fstream>
#include <string>
#include <thread>

#include <sys/utsname.h>
#include <unistd.h>

namespace exprt {
namespace {

// The first `key : value` line of a /proc file whose key starts with `key`.
std::string procField(const char *path, const std::string &key) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key, 0) == 0) {
      size_t colon = line.find(':');
      if (colon == std::string::npos)
        continue;
      size_t start = line.find_first_not_of(" \t", colon + 1);
      return start == std::string::npos ? "" : line.substr(start);
    }
  return "";
}

} // namespace

std::string environmentJson() {
  nlohmann::json env;
  env["runtime_version"] = runtimeVersion();
  env["plan_format_version"] = kPlanFormatVersion;
  env["libtorch_version"] = TORCH_VERSION;
  env["compiler"] = __VERSION__;
  env["threads"] = torch::get_num_threads();
  env["interop_threads"] = torch::get_num_interop_threads();
  const std::string flags = " " + procField("/proc/cpuinfo", "flags") + " ";
  env["cpu"] = {{"model", procField("/proc/cpuinfo", "model name")},
                {"logical_cores", std::thread::hardware_concurrency()},
                {"flags_avx2", flags.find(" avx2 ") != std::string::npos},
                {"flags_avx512f", flags.find(" avx512f ") != std::string::npos}};
  env["memory_total"] = procField("/proc/meminfo", "MemTotal");
  // The optional dependencies this runtime was built with (Features.def).
  env["features"] = nlohmann::json::object();
  for (BuildFeature f : allFeatures())
    env["features"][featureInfo(f).name] = built(f);
  env["cuda_available"] = torch::cuda::is_available();
  env["gpus"] = nlohmann::json::array(); // this build runs on the CPU
  struct utsname u {};
  if (::uname(&u) == 0)
    env["os"] = {{"system", u.sysname}, {"release", u.release}, {"machine", u.machine},
                 {"hostname", u.nodename}};
  return env.dump(2) + "\n";
}

} // namespace exprt
