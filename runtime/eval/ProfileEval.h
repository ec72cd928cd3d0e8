// `exp eval`: a profile table through its spec's stages and evaluations
// (the plan comes from expc::profileEvalPlan; docs/artifact.md).
#pragma once

#include "exprt/Status.h"

#include <nlohmann/json_fwd.hpp>

#include <string>

namespace exprt {

// Reads the table, materialises the source's roles (perturbation, plate,
// well, batch, source, gene, label, control) as metadata columns of those
// names, runs the stages in order and scores every evaluation. `out`:
// {"table": {...}, "stages": [...], "evaluations": {name: {...}}}; `plots`:
// what the report draws; `groups`: replicate_map's per-group CSV rows by
// evaluation name.
Status evaluateProfileTable(const nlohmann::json &plan, uint64_t seed, nlohmann::json &out,
                            nlohmann::json &plots, nlohmann::json &groups);

} // namespace exprt
