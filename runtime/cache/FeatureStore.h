// Precomputed features (step.precompute): the outputs of each precompute
// graph for every training row, computed once without gradients before the
// first step and cached on disk by content hash, so the training step reads
// a frozen encoder's output instead of running it.
#pragma once

#include "data/Screen.h"
#include "exec/GraphExecutor.h"
#include "plan/Plan.h"

#include <map>
#include <string>
#include <vector>

namespace exprt {

struct PrecomputeRecord {
  std::string graph, key; // key: SHA-256 of the graph, its parameters and its inputs
  int64_t rows = 0;
  bool fromCache = false;
  double seconds = 0;
};

class FeatureStore {
public:
  // Computes (or reads from `cacheDir`; "" = no disk cache) the outputs of
  // every precompute graph of `plan` over the dataset rows `rows`.
  Status build(const Plan &plan, const Screen &screen, ParameterStore &params,
               const std::vector<int64_t> &rows, const std::string &cacheDir, bool progress);

  // The inputs of `graph` for the dataset rows `sites`, keyed by binding:
  // columns from the screen (paired columns drawn with `draw`: training
  // batches draw afresh, evaluation and precomputation with 0), features
  // from this store.
  std::map<std::string, torch::Tensor> inputs(const Graph &graph, const Screen &screen,
                                              const torch::Tensor &sites, uint64_t draw = 0) const;

  const std::vector<PrecomputeRecord> &records() const { return records_; }

private:
  torch::Tensor rowOf_; // dataset row -> row of the outputs (-1: not computed)
  std::map<std::string, std::vector<torch::Tensor>> outputs_;
  std::vector<PrecomputeRecord> records_;
};

} // namespace exprt
