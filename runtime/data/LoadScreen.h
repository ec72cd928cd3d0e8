// The plan's dataset as a Screen, through the real readers: the simulated
// screen is written in RxRx1's on-disk layout (once, cached by its
// parameters) and read back like any RxRx1 download; images are packed
// (prep/Pack.h) and memory-mapped.
#pragma once

#include "prep/Readers.h"

#include "data/Screen.h"
#include "features/Features.h"
#include "plan/Plan.h"

#include <string>

namespace exprt {

struct DataOptions {
  std::string cacheDir; // "<cache>/data": simulated screens and packed images; "" keeps nothing
  int threads = 1;      // decoding threads
  bool progress = false;
  // Bemis-Murcko scaffolds for the Bray scaffold split (the session passes
  // side/Molecules.h's murckoScaffold, so data needs nothing of side).
  ScaffoldFn scaffoldOf;
};

// Writes the simulated screen of `params` (a plan's data.params) into `dir`
// in the layout its `format` names, under a temporary name renamed at the
// end, so a failed or killed writer leaves no `dir`.
Status writeSimulatedScreenDir(const nlohmann::json &params, const std::string &dir);

// Whether loadScreen reads data sources of `kind` (a plan's data.kind).
bool readsDataSource(const std::string &kind);

// The refusal when this build lacks a feature the plan's data source needs
// on every run (its metadata reader), naming the option; else ok.
Status checkDataFeatures(const Plan &plan, const std::string &origin);

// The reader's column (Screen::metadata) that holds a source's declared
// column `name` (RxRx1's `sirna` is `perturbation`).
std::string readerColumn(const std::string &kind, const std::string &name);

// `description` says what was read, for the progress line.
Status loadScreen(const Plan &plan, const DataOptions &options, Screen &screen,
                  std::string &description);

} // namespace exprt
