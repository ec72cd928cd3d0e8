#include "exec/Faults.h"

#include <cstdio>
#include <new>

namespace exprt {

std::string outOfMemory(const std::exception &e) {
  if (dynamic_cast<const std::bad_alloc *>(&e))
    return "an allocation failed";
  std::string what = e.what();
  if (what.find("can't allocate memory") == std::string::npos &&
      what.find("out of memory") == std::string::npos &&
      what.find("Cannot allocate memory") == std::string::npos)
    return "";
  // "... you tried to allocate 167772160 bytes ..." (CPU) or
  // "Tried to allocate 2.00 GiB" (CUDA: already human-readable).
  for (const char *key : {"tried to allocate ", "Tried to allocate "}) {
    size_t at = what.find(key);
    if (at == std::string::npos)
      continue;
    double n = 0;
    char unit[8] = "";
    if (std::sscanf(what.c_str() + at + std::string(key).size(), "%lf %7[A-Za-z]", &n, unit) != 2)
      break;
    char buf[64];
    if (std::string(unit) == "bytes")
      std::snprintf(buf, sizeof buf, "tried to allocate %.1f MiB", n / (1024.0 * 1024.0));
    else
      std::snprintf(buf, sizeof buf, "tried to allocate %.2f %s", n, unit);
    return buf;
  }
  return "an allocation failed";
}

} // namespace exprt
