// The runtime, loaded on demand: `exp` does not link libexp_runtime.so (and
// through it LibTorch, RDKit, HDF5, ...), so `check`, `fmt` and `compile`
// start in the time the compiler's own libraries take. The subcommands that
// execute plans load it first and reach it through its API table
// (exprt/Runtime.h, `Api`).
#pragma once

#include "exprt/Runtime.h"

#include <string>

namespace exptool {

// Where the runtime library is looked for: $EXP_RUNTIME_LIBRARY, else
// lib/libexp_runtime.so beside this binary's bin/ (the build and install layout).
std::string runtimeLibraryPath();

// Loads the runtime once: 0, or the exit status of the error it reported
// (T0003: missing or unloadable; T0004: built from other sources), naming
// the file and why.
int loadRuntime();

// The loaded runtime's API; only after loadRuntime succeeded.
const exprt::Api &runtime();

} // namespace exptool
