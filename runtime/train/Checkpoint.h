// Training checkpoints: everything needed to continue a run exactly where it
// stopped. A checkpoint is a directory `checkpoints/step-NNNNNNNN/` holding
// `state.safetensors` (parameters, optimiser state, RNG states, the epoch's
// row order, loss history) and `manifest.json` (positions, schedule state,
// SHA-256 of the tensors file). It is written under a temporary name and
// renamed into place, so a run killed at any moment leaves only complete
// checkpoints (docs/artifact.md, "Checkpoints").
#pragma once

#include "exec/GraphExecutor.h"
#include "train/Optimizer.h"
#include "train/Schedule.h"

#include <map>
#include <string>
#include <vector>

namespace exprt {

inline constexpr int kCheckpointFormatVersion = 1;

// Where the training loop is, between two optimiser steps.
struct TrainState {
  int64_t step = 0;       // optimiser steps done
  int64_t batch = 0;      // batches consumed (step * accumulate)
  torch::Tensor order;    // the current epoch's row order (int64)
  std::string shuffleRng; // std::mt19937_64's state, as its operator<< writes it
  torch::Tensor torchRng; // the CPU generator's state (dropout)
  torch::Tensor deviceRng; // the CUDA device's generator (dropout there); undefined on the CPU
  double epochLossSum = 0;
  int64_t epochBatches = 0;
  std::vector<double> epochLoss;          // finished epochs' mean loss
  std::vector<double> stepLoss, stepLr;   // per optimiser step
  std::vector<double> stepGradNorm;       // before clipping
  // Early stopping on the validation rows' loss.
  std::vector<double> valLoss;            // per finished epoch
  double bestValLoss = 0;                 // valid when bestEpoch > 0
  int64_t bestEpoch = 0;                  // 1-based; 0: none yet
  int64_t badEpochs = 0;                  // epochs since the best
  bool stopped = false;                   // patience ran out
  std::map<std::string, torch::Tensor> best; // parameters after the best epoch
};

// Writes checkpoint `state.step` under `dir`/checkpoints and keeps the newest
// `keep` of them. `planSha256` ties it to the plan it belongs to.
Status writeCheckpoint(const std::string &dir, const std::string &planSha256,
                       const ParameterStore &params, const TrainOptimizer &opt,
                       const Schedule &schedule, const TrainState &state, int keep = 2);

// The newest complete checkpoint under `dir`/checkpoints ("" when none).
std::string latestCheckpoint(const std::string &dir);

// Restores a checkpoint into `params`, `opt`, `schedule` and `state`, after
// checking its format version, its plan and its tensors' hash; errors name
// the checkpoint's file and what is wrong.
Status readCheckpoint(const std::string &path, const std::string &planSha256,
                      ParameterStore &params, TrainOptimizer &opt, Schedule &schedule,
                      TrainState &state);

} // namespace exprt
