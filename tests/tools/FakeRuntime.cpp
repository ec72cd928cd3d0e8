// A shared library that looks like an exp runtime but was built from other
// sources: its API table carries another ABI number. `exp` must refuse it by
// name (tests/lit/driver/runtime-on-demand.test).
#include "exprt/Runtime.h"

extern "C" const exprt::Api *exprt_api() {
  static exprt::Api api = [] {
    exprt::Api a;
    a.abi = exprt::Api::kAbi + 998;
    return a;
  }();
  return &api;
}
