// The step-level dialect (level 2 of the IR): ops that map onto runtime kernels.
#pragma once

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialects/step/StepDialect.h.inc"

namespace expc::step {
// Ops whose result row i depends only on row i of their batched operands
// (Step_RowWise in StepOps.td).
template <typename ConcreteType>
class RowWise : public mlir::OpTrait::TraitBase<ConcreteType, RowWise> {};
// Ops computed element by element, without randomness (Step_Elementwise).
template <typename ConcreteType>
class Elementwise : public mlir::OpTrait::TraitBase<ConcreteType, Elementwise> {};
// Whether declared result types are the inferred ones, or less static:
// same element types and ranks, dimensions equal or dynamic in either.
bool typesAgree(mlir::TypeRange inferred, mlir::TypeRange declared);
} // namespace expc::step

#define GET_OP_CLASSES
#include "dialects/step/StepOps.h.inc"

namespace expc::step {
// The name of the func argument attribute that names a graph input's column.
inline constexpr const char *kColumnAttr = "step.column";
// On a labels column's argument: its class count, which the data must fit.
inline constexpr const char *kClassesAttr = "step.classes";
// On a graph argument that reads side information (column "side:NAME"):
// how the runtime featurises it, {kind, key, params} (docs/sideinfo.md).
inline constexpr const char *kSideAttr = "step.side";
// On an image column's argument: the column drawn as augmented view N (1,
// 2) of the same rows, each view with its own draws (SimCLR's two views).
inline constexpr const char *kViewAttr = "step.view";
// A graph input that reads cached features instead: output `step.output` of
// the graph `step.features` names, which a step.precompute computes.
inline constexpr const char *kFeaturesAttr = "step.features";
inline constexpr const char *kOutputAttr = "step.output";
// On a graph whose rows are not dataset rows: `"classes"` for the candidates
// of recall_at, evaluated over the label set.
inline constexpr const char *kRowsAttr = "step.rows";
} // namespace expc::step
