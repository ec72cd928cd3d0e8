// The simulated screen's renderer, shared by the in-memory screen
// (SimulatedScreen.cpp) and the writers of its on-disk formats
// (SimulatedWriters.cpp). Internal to runtime/data.
#pragma once

#include "data/simulator/SimulatedBiology.h"
#include "exprt/Status.h"

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <vector>

namespace exprt {

// A rendered screen before it is stored anywhere: raw intensities and the
// plate maps.
struct Rendered {
  Params p;
  torch::Tensor images; // [N, C, S, S] float32, raw intensities
  std::vector<int64_t> pert, plateOf, wellOf, wellInPlate, siteInWell;
  std::vector<bool> heldOut;
  std::vector<double> effects; // [K, kFeatures]
  std::vector<int64_t> module;  // [K] the module of each perturbation; -1 for the control
  std::vector<int64_t> lineOf;  // the cell line of each site (bio.lines)
  Biology bio;
  int64_t wellsPerPlate = 0;
};

// The parameters `json` (a plan's data.params) gives, checked.
Status readParams(const nlohmann::json &json, Params &p);

// Renders the screen `json` describes (a plan's data.params).
Status render(const nlohmann::json &json, Rendered &out);

} // namespace exprt
