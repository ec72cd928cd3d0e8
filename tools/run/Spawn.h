// Starting this `exp` again as a child process: `exp run --nproc`'s ranks and
// `exp sweep`'s points.
#pragma once

#include <string>
#include <vector>

namespace exptool {

// This `exp` binary's path (/proc/self/exe).
std::string selfPath();
// Starts this `exp` with `args` (after the program name); `env` replaces
// the environment when given; `output` ("" = inherited) receives its stdout
// and stderr. The child's pid, or -1 when it cannot be started.
int spawnExp(const std::vector<std::string> &args, const std::vector<std::string> *env = nullptr,
             const std::string &output = "");

} // namespace exptool
