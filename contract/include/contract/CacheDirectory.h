// Where exp keeps its caches (compiled plans, precomputed features,
// simulated screens and packed images), agreed by the compiler and the
// tools that run plans: $EXP_CACHE_DIR, else $XDG_CACHE_HOME/exp, else
// ~/.cache/exp, else the temporary directory's exp-cache.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace expcontract {

inline std::string cacheDirectory() {
  namespace fs = std::filesystem;
  if (const char *dir = std::getenv("EXP_CACHE_DIR"); dir && *dir)
    return dir;
  if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return (fs::path(xdg) / "exp").string();
  if (const char *home = std::getenv("HOME"); home && *home)
    return (fs::path(home) / ".cache" / "exp").string();
  return (fs::temp_directory_path() / "exp-cache").string();
}

} // namespace expcontract
