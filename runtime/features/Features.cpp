#include "features/Switches.h"

namespace exprt {
namespace {

// Each option's compile definition is 0 or 1 (runtime/CMakeLists.txt); a
// source that names one without it is a build error, not a silent "off".
const FeatureInfo kFeatures[] = {
#define RUNTIME_FEATURE(id, name, option, library, what) {name, #option, library, what, option != 0},
#include "exprt/Features.def"
#undef RUNTIME_FEATURE
};

} // namespace

const FeatureInfo &featureInfo(BuildFeature f) { return kFeatures[static_cast<int>(f)]; }

const std::vector<BuildFeature> &allFeatures() {
  static const std::vector<BuildFeature> all = {
#define RUNTIME_FEATURE(id, name, option, library, what) BuildFeature::id,
#include "exprt/Features.def"
#undef RUNTIME_FEATURE
  };
  return all;
}

Status missingFeature(BuildFeature f, const std::string &who) {
  const FeatureInfo &i = featureInfo(f);
  return Status::error(ErrorKind::FeatureMissing, who + ": needs " + i.library + " (" + i.what +
                                                      "), which this runtime was built without; rebuild it with -D" +
                                                      i.option + "=ON (feature `" + i.name + "`)");
}

Status requireFeatures(const std::vector<BuildFeature> &needed, const std::string &who) {
  for (BuildFeature f : needed)
    if (!built(f))
      return missingFeature(f, who);
  return Status::ok();
}

} // namespace exprt
