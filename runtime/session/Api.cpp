// The public API as one table (include/exprt/Runtime.h, `Api`): what a client
// that loads libexp_runtime.so on demand reaches through dlsym("exprt_api").
#include "exprt/Runtime.h"

extern "C" const exprt::Api *exprt_api() {
  static const exprt::Api api = [] {
    exprt::Api a;
    a.runtimeVersion = &exprt::runtimeVersion;
    a.planFormatVersion = &exprt::planFormatVersion;
    a.checkDevice = &exprt::checkDevice;
    a.readLaunchEnvironment = &exprt::readLaunchEnvironment;
    a.readTestHooks = &exprt::readTestHooks;
    a.createSession = &exprt::Session::create;
    a.writeSimulatedScreenFiles = &exprt::writeSimulatedScreenFiles;
    a.writeProfileEvaluation = &exprt::writeProfileEvaluation;
    a.environmentJson = &exprt::environmentJson;
    return a;
  }();
  return &api;
}
