// A deterministic simulated Cell Painting-like screen with known ground truth:
// plates of wells of sites, control wells on every plate, perturbations with
// distinct morphological effects, and plate-level nuisance (intensity gains,
// illumination gradients). Generated in memory from a seed in well under a
// second for the default size.
#pragma once

#include "data/Pairing.h"
#include "exprt/Runtime.h"

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <map>
#include <vector>

namespace exprt {

struct Screen {
  torch::Tensor images;       // [N, C, H, W] float32, normalised per channel
  torch::Tensor perturbation; // [N] int64; 0 is the control
  torch::Tensor plate;        // [N] int64
  torch::Tensor well;         // [N] int64, unique across plates
  std::vector<int64_t> trainSites, evalSites;
  std::vector<int64_t> valSites; // training wells kept aside (splitValidation)
  int64_t perturbations = 0; // classes, control included
  int64_t plates = 0, wells = 0;
  torch::Tensor effects; // [perturbations, features]: the ground truth

  // pairing = "micon": the splits hold treated sites only; `controls` draws
  // a control for a site (same plate, else same split), `siblings` another
  // site of its perturbation (same plate, else same split).
  bool paired = false;
  GroupSampler controls, siblings;
  // bag > 1: the splits hold one site per well (its first), and the image
  // column gives `bag` of the well's sites per row (bagSites).
  int64_t bag = 1;
  std::map<int64_t, std::vector<int64_t>> wellSites; // well -> its sites

  // A column by name ("image", "perturbation", "plate", "well"; with
  // pairing "treated1", "control1", "treated2", "control2") for `sites`.
  // Paired columns are drawn from `draw` and each site (docs/stdlib.md).
  torch::Tensor column(const std::string &name, const torch::Tensor &sites,
                       uint64_t draw = 0) const;
  bool hasColumn(const std::string &name) const;

private:
  std::vector<int64_t> bagRows(const torch::Tensor &sites, uint64_t draw) const;
  std::vector<int64_t> pairedRows(const std::string &name, const torch::Tensor &sites,
                                  uint64_t draw) const;
};

// Generates the screen described by `params` (the plan's data.params).
Status generateSimulatedScreen(const nlohmann::json &params, Screen &screen);

// Makes rows wells with bags of `bag` sites: each split keeps its wells'
// first sites, and `column("image", ...)` draws `bag` sites of each row's
// well (a subset when it has more, with repetition when it has fewer).
void bagSites(Screen &screen, int64_t bag);

// Moves `fraction` of the training wells (at least one, and never all),
// chosen from `seed`, with all their sites from `trainSites` to `valSites`:
// sites of one well never straddle the two.
void splitValidation(Screen &screen, double fraction, uint64_t seed);

} // namespace exprt
