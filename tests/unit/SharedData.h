// Where real-data tests find ../shared/data (EXP_SHARED_DATA overrides), and
// the guard that skips a test, saying so, when a folder of it is absent.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>

inline std::filesystem::path sharedData() {
  const char *env = std::getenv("EXP_SHARED_DATA");
  std::filesystem::path p =
      env ? std::filesystem::path(env) : std::filesystem::path(EXP_SOURCE_DIR) / ".." / "shared" / "data";
  return std::filesystem::exists(p) ? p : std::filesystem::path();
}

#define SKIP_WITHOUT_SHARED_DATA(dir)                                                              \
  const std::filesystem::path shared = sharedData();                                               \
  if (shared.empty() || !std::filesystem::exists(shared / dir)) {                                  \
    MESSAGE("SKIP: ../shared/data/" dir " is absent");                                             \
    return;                                                                                        \
  }
