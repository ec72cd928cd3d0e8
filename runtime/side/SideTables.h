// Side information in a run: each graph input that reads "side:NAME" is
// featurised here, once, before training — a table with one vector per
// distinct value of its key column (a cell line, a SMILES), read from the
// side's file or computed by RDKit, cached on disk by content hash — and
// becomes a per-row feature column of the screen (docs/sideinfo.md).
#pragma once

#include "data/Screen.h"
#include "plan/Plan.h"

#include <string>
#include <vector>

namespace exprt {

struct SideRecord {
  std::string name, kind, key;
  int64_t values = 0;  // distinct key values (table rows)
  int64_t dim = 0;
  int64_t dropped = 0; // rows dropped for an invalid structure (`invalid = "drop"`)
  std::vector<std::string> invalid; // "FILE:LINE: not a valid SMILES ...", first 20
  int64_t truncated = 0; // text: distinct prompts cut to the tokenizer's `length`
  std::string source;  // the file read ("" for morgan)
  std::string cacheKey;
  bool fromCache = false;
  double seconds = 0;
};

// Featurises every side input of `plan`'s graphs into `screen.features`;
// rows dropped by an invalid-structure policy leave the screen's splits.
// `cacheDir` ("" = none) keeps the tables as safetensors under `side/`.
Status featuriseSides(const Plan &plan, Screen &screen, const std::string &cacheDir, bool progress,
                      std::vector<SideRecord> &records);

} // namespace exprt
