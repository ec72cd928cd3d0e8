#include "RuntimeLoader.h"

#include "Io.h"
#include "Spawn.h"

#include <cstdlib>
#include <filesystem>

#include <dlfcn.h>

namespace exptool {
namespace {
const exprt::Api *gApi = nullptr;
} // namespace

std::string runtimeLibraryPath() {
  if (const char *path = std::getenv("EXP_RUNTIME_LIBRARY"); path && *path)
    return path;
  return (std::filesystem::path(selfPath()).parent_path().parent_path() / "lib" / "libexp_runtime.so")
      .string();
}

int loadRuntime() {
  if (gApi)
    return 0;
  const std::string path = runtimeLibraryPath();
  // Never closed: sessions and their threads live until the process ends.
  void *handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *why = ::dlerror();
    const std::string front = std::string(toolName()) == "exp" ? "`exp check`, `fmt` and `compile` work without it; " : "";
    return fail(ToolError::RuntimeUnavailable, "cannot load the exp runtime `" + path + "`: " +
                                                   (why ? why : "unknown reason") + " (" + front +
                                                   "set EXP_RUNTIME_LIBRARY to its path)");
  }
  using Entry = const exprt::Api *(*)();
  auto entry = reinterpret_cast<Entry>(::dlsym(handle, "exprt_api"));
  const exprt::Api *api = entry ? entry() : nullptr;
  if (!api || api->abi != exprt::Api::kAbi || api->size != sizeof(exprt::Api)) {
    return fail(ToolError::RuntimeMismatch,
                "`" + path + "` is not an exp runtime this `" + toolName() + "` can use (" +
                    (api ? "its API table is version " + std::to_string(api->abi) + ", this " + toolName() + " expects " +
                               std::to_string(exprt::Api::kAbi)
                         : std::string("it has no `exprt_api` entry point")) +
                    "); rebuild both from the same sources");
  }
  gApi = api;
  return 0;
}

const exprt::Api &runtime() { return *gApi; }

} // namespace exptool
