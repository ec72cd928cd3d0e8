// The simulated screen's parameters (a plan's data.params, docs/stdlib.md)
// and the morphological features its perturbations shift. Internal to
// runtime/data.
#pragma once

#include <cstdint>

namespace exprt {

// Morphological features a perturbation shifts (in log space, mostly).
enum Feature {
  NucleusSize,
  NucleusIntensity,
  CellSize,
  CytoplasmIntensity,
  TextureFrequency,
  TextureAmplitude,
  CellCount,
  Elongation,
  kFeatures
};

struct Params {
  uint64_t seed;
  int64_t plates, holdout, perturbations, replicates, controls, sites, channels, size, modules;
  // Plate p holds cell line p % cellLines; the last `compounds` perturbations are compounds.
  int64_t cellLines = 1, compounds = 0;
  double effect, batchEffect, noise;
  bool micon = false; // pairing = "micon"
};

// The names of the effect features, in Feature order.
extern const char *const kFeatureNames[kFeatures];

} // namespace exprt
