// Runs a plan's evaluations: computes the embeddings each one needs over the
// held-out sites (once per graph, shared between metrics), aggregates sites to
// wells, and scores them.
#pragma once

#include "cache/FeatureStore.h"
#include "data/Screen.h"
#include "exec/GraphExecutor.h"
#include "plan/Plan.h"

#include <nlohmann/json.hpp>

namespace exprt {

enum class EmbeddingSource {
  Model,  // the plan's graphs with the current parameters
  Random, // Gaussian vectors of the same width: the chance baseline
};

// Scores every evaluation of `plan`; returns {name: {metric: ..., ...}}.
// `features` holds the plan's precomputed inputs for the held-out rows.
// With `plots`, also what the run report draws: {name: {map2d: {x, y,
// perturbation, batch}, recall_curve: {k, forward, reverse}}}.
Status evaluateAll(const Plan &plan, const Screen &screen, const FeatureStore &features,
                   ParameterStore &params, EmbeddingSource source, uint64_t seed,
                   nlohmann::json &out, nlohmann::json *plots = nullptr);

} // namespace exprt
