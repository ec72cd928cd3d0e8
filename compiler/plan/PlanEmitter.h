// Serialises a step-level module into the plan artifact the runtime executes
// (format documented in docs/artifact.md). Only step-level IR is accepted:
// the plan is emitted from lowered MLIR, never from the AST.
#pragma once

#include "contract/PlanFormat.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LogicalResult.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace expc {

// The format this emitter writes: the plan contract's (contract/PlanFormat.h),
// which the runtime checks.
inline constexpr int kPlanFormatVersion = expcontract::kPlanFormatVersion;

struct PlanHeader {
  std::string sourcePath;
  std::string sourceSha256;
  // Hash of the normalised source (every module's AST without positions and
  // comments, in load order) and the resolved overrides: the compile cache key
  // input, insensitive to whitespace and comments.
  std::string normalizedSha256;
  std::vector<std::string> overrides;
  std::string target = "cpu";
  std::string buildId;
};

mlir::FailureOr<nlohmann::json> emitPlan(mlir::ModuleOp module, const PlanHeader &header);

} // namespace expc
