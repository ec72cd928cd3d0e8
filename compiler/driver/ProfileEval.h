// `exp eval`: a spec over a `profiles` table needs no graphs, so it skips the
// middle end; its checked values become a small JSON plan (docs/artifact.md,
// "Profile evaluation plan") that the runtime executes over the table.
#pragma once

#include "diagnostics/Diagnostics.h"
#include "diagnostics/SourceManager.h"
#include "sema/Sema.h"

#include <string>

namespace expc {

// The spec's one `profiles` dataset (its path replaced by `table` when not
// empty), its stages and its evaluations as JSON; the spec's relative paths
// become relative to `specDir`. False after reporting what cannot be
// evaluated over a profile table.
bool profileEvalPlan(const Sema &sema, DiagnosticEngine &diags, const std::string &table,
                     const std::string &specDir, std::string &out);

} // namespace expc
