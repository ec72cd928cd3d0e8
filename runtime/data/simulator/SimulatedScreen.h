// A deterministic simulated Cell Painting-like screen with known ground truth:
// plates of wells of sites, control wells on every plate, perturbations with
// distinct morphological effects, and plate-level nuisance (intensity gains,
// illumination gradients). Generated in memory from a seed in well under a
// second for the default size.
#pragma once

#include "data/Screen.h"
#include "exprt/Status.h"

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace exprt {

// Generates the screen described by `params` (the plan's data.params).
Status generateSimulatedScreen(const nlohmann::json &params, Screen &screen);

// Writes the screen described by `params` into `dir` in RxRx1's layout:
// metadata.csv, images/{experiment}/Plate{plate}/{well}_s{site}_w{channel}.png
// (8-bit) and ground_truth.json (the effect vectors). docs/data.md.
Status writeSimulatedScreen(const nlohmann::json &params, const std::string &dir);

// The same in JUMP's layout: metadata/{plate,well}.csv.gz and split.csv,
// load_data_csv/{batch}/{plate}/load_data.csv.gz and 16-bit TIFFs named as
// Harmony names them (docs/data.md).
Status writeSimulatedScreenJump(const nlohmann::json &params, const std::string &dir);

// The same in RxRx3-core's layout: metadata_rxrx3_core.csv (with a `split`
// column) and one WebDataset tar shard per experiment of lossless 8-bit
// JPEG 2000 channels; 6 channels, one site per well; knock-downs and
// compounds together, several cell lines.
Status writeSimulatedScreenRxrx3(const nlohmann::json &params, const std::string &dir);

} // namespace exprt
