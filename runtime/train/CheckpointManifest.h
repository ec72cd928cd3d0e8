// A checkpoint's manifest.json (train/Checkpoint.h): format, plan, the
// loop's counters, early stopping's state and the schedule's. Read on its
// own so the fuzz tree can take it without the executor and optimiser.
#pragma once

#include "train/Checkpoint.h"

#include <string>

namespace exprt {

// Reads `manifestPath` into `schedule` and `state` after checking its format,
// version and plan; `stateSha256` is the tensors file's hash it records.
// Every error names the file and what is wrong.
Status readCheckpointManifest(const std::string &manifestPath, const std::string &planSha256, Schedule &schedule,
                              TrainState &state, std::string &stateSha256);

} // namespace exprt
