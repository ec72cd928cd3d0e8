// The training loop: shuffled mini-batches of the training sites, the plan's
// loss graph, autograd, the plan's optimiser, parameter clamps.
#pragma once

#include "cache/FeatureStore.h"
#include "data/SimulatedScreen.h"
#include "exec/GraphExecutor.h"
#include "plan/Plan.h"

#include <vector>

namespace exprt {

struct TrainResult {
  std::vector<double> epochLoss; // mean loss per epoch
  int64_t steps = 0;
  double seconds = 0;
};

// `features` holds the plan's precomputed inputs for the training rows.
Status train(const Plan &plan, const Screen &screen, const FeatureStore &features,
             ParameterStore &params, bool progress, TrainResult &result);

} // namespace exprt
