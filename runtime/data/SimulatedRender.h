// The simulated screen's renderer, shared by the in-memory screen
// (SimulatedScreen.cpp) and the writers of its on-disk formats
// (SimulatedWriters.cpp). Internal to runtime/data.
#pragma once

#include "exprt/Runtime.h"

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <vector>

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
  double effect, batchEffect, noise;
  bool micon = false; // pairing = "micon"
};

// A rendered screen before it is stored anywhere: raw intensities and the
// plate maps.
struct Rendered {
  Params p;
  torch::Tensor images; // [N, C, S, S] float32, raw intensities
  std::vector<int64_t> pert, plateOf, wellOf, wellInPlate, siteInWell;
  std::vector<bool> heldOut;
  std::vector<double> effects; // [K, kFeatures]
  std::vector<int64_t> module;  // [K] the module of each perturbation; -1 for the control
  int64_t wellsPerPlate = 0;
};

// Renders the screen `json` describes (a plan's data.params).
Status render(const nlohmann::json &json, Rendered &out);

// The names of the effect features, in Feature order.
extern const char *const kFeatureNames[kFeatures];

} // namespace exprt
