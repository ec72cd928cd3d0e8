// The training loop: shuffled mini-batches of the training sites, the plan's
// loss graph, autograd, gradient accumulation and clipping, the plan's
// optimiser and schedule, parameter clamps, checkpoints and resumption.
#pragma once

#include "exprt/Runtime.h"
#include "cache/FeatureStore.h"
#include "data/Screen.h"
#include "exec/GraphExecutor.h"
#include "plan/Plan.h"

#include <vector>

namespace exprt {

struct TrainOptions {
  bool progress = true;
  bool progressBar = false; // redraw a bar in place (stderr is a terminal)
  // Checkpoints go under `runDir`/checkpoints; "" writes none.
  std::string runDir;
  // Optimiser steps between checkpoints; 0: one per epoch.
  int64_t checkpointEvery = 0;
  // Continue from the newest checkpoint under `runDir` (from the start when
  // there is none yet).
  bool resume = false;
  // Threads building batches ahead of the step; 0 builds them in the step's
  // thread. Results do not depend on it.
  int dataWorkers = 1;
  TestHooks hooks; // NaN injection, a killed rank, CUDA graphs off
};

struct TrainResult {
  std::vector<double> epochLoss;   // mean loss per epoch (the last may be partial)
  std::vector<double> stepLoss;    // mean loss per optimiser step
  std::vector<double> stepLr;      // learning rate per optimiser step
  std::vector<double> stepGradNorm; // global gradient norm before clipping
  std::vector<double> valLoss;      // per epoch, on the validation rows (when any)
  int64_t bestEpoch = 0;            // the epoch whose parameters are kept (0: the last)
  bool stoppedEarly = false;
  int64_t steps = 0;
  double seconds = 0; // of this process's part of the run
  int64_t graphFromStep = 0; // the first step replayed as a CUDA graph (1-based; 0: none)
};

// `features` holds the plan's precomputed inputs for the training rows. With
// validation rows (`screen.valSites`), the loss on them is recorded after
// every epoch; with `early_stop_patience`, training stops when it has not
// improved for that many epochs, and `params` end as they were after the best.
Status train(const Plan &plan, const Screen &screen, const FeatureStore &features,
             ParameterStore &params, const TrainOptions &options, TrainResult &result);

} // namespace exprt
