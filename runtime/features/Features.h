// Which optional dependencies this runtime was built with (exprt/Features.def),
// and the refusal for one it lacks.
#pragma once

#include "exprt/Status.h"

#include <string>
#include <vector>

namespace exprt {

enum class BuildFeature {
#define RUNTIME_FEATURE(id, name, option, library, what) id,
#include "exprt/Features.def"
#undef RUNTIME_FEATURE
};

struct FeatureInfo {
  const char *name, *option, *library, *what;
  bool built;
};
const FeatureInfo &featureInfo(BuildFeature f);
inline bool built(BuildFeature f) { return featureInfo(f).built; }

// Every feature, in Features.def's order.
const std::vector<BuildFeature> &allFeatures();

// The refusal when `f` is missing: "WHO: needs LIBRARY (WHAT), which this
// runtime was built without; rebuild it with -DOPTION=ON (feature `NAME`)"
// [R0106]. `who` names the file or plan part that needs it.
Status missingFeature(BuildFeature f, const std::string &who);

// ok when every feature of `needed` is built, else the first one's refusal.
Status requireFeatures(const std::vector<BuildFeature> &needed, const std::string &who);

} // namespace exprt
