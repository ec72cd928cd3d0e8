//===- InferShapes.cpp - refine step result types from operand types ------===//
//
// See the pass description in Passes.td. The rules are the ops' own shape
// functions (InferTypeOpInterface, compiler/dialects/step/StepShapes.cpp).
//
//===----------------------------------------------------------------------===//

#include "transforms/Passes.h"

#include "dialects/step/StepDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"

namespace expc {
#define GEN_PASS_DEF_STEPINFERSHAPES
#include "transforms/Passes.h.inc"
} // namespace expc

using namespace mlir;
namespace step = expc::step;

namespace {

// `declared` with each dynamic dimension `inferred` knows filled in.
Type refine(Type declared, Type inferred) {
  auto d = dyn_cast<RankedTensorType>(declared), i = dyn_cast<RankedTensorType>(inferred);
  if (!d || !i || d.getRank() != i.getRank())
    return declared;
  SmallVector<int64_t> shape(d.getShape());
  for (auto [dim, known] : llvm::zip(shape, i.getShape()))
    if (ShapedType::isDynamic(dim))
      dim = known;
  return d.clone(shape);
}

class ShapeInference {
public:
  ShapeInference(ModuleOp module, bool explain) : module_(module), explain_(explain) {}

  // Refines every graph until nothing changes (a graph reading features is
  // refined again after the graph computing them).
  LogicalResult run();

private:
  LogicalResult refineOp(Operation *op, bool &changed);
  FailureOr<bool> refineGraph(func::FuncOp f);
  bool refineFeatureArguments(func::FuncOp f);

  ModuleOp module_;
  bool explain_;
  int64_t refined_ = 0;
};

// Refines one op's results from its shape function; a fusion group's block
// arguments take its inputs' types and its results its yields'.
LogicalResult ShapeInference::refineOp(Operation *op, bool &changed) {
  auto update = [&](Value v, Type better) {
    if (better != v.getType()) {
      v.setType(better);
      changed = true;
      ++refined_;
    }
  };
  if (auto fusion = dyn_cast<step::FusionOp>(op)) {
    Block &body = fusion.getBody().front();
    for (auto [arg, in] : llvm::zip(body.getArguments(), fusion.getInputs()))
      arg.setType(in.getType());
    for (Operation &inner : body)
      if (failed(refineOp(&inner, changed)))
        return failure();
    for (auto [result, v] : llvm::zip(fusion.getResults(), body.getTerminator()->getOperands()))
      update(result, v.getType());
    return success();
  }
  auto infer = dyn_cast<InferTypeOpInterface>(op);
  if (!infer)
    return success();
  SmallVector<Type> inferred;
  if (failed(infer.inferReturnTypes(op->getContext(), op->getLoc(), op->getOperands(),
                                    op->getAttrDictionary(), op->getPropertiesStorage(),
                                    op->getRegions(), inferred)))
    return failure();
  for (auto [result, type] : llvm::zip(op->getResults(), inferred)) {
    if (!step::typesAgree(type, result.getType()))
      return op->emitOpError() << "result type " << result.getType()
                               << " contradicts the inferred " << type;
    update(result, refine(result.getType(), type));
  }
  return success();
}

// The graph's ops in order, then its signature from the values it returns.
FailureOr<bool> ShapeInference::refineGraph(func::FuncOp f) {
  bool changed = false;
  for (Operation &op : f.getBody().front())
    if (failed(refineOp(&op, changed)))
      return failure();
  auto ret = cast<func::ReturnOp>(f.getBody().front().getTerminator());
  f.setType(FunctionType::get(f.getContext(), f.getArgumentTypes(), ret.getOperandTypes()));
  return changed;
}

// Arguments that read precomputed features take the features graph's
// (possibly refined) result types.
bool ShapeInference::refineFeatureArguments(func::FuncOp f) {
  bool changed = false;
  for (BlockArgument arg : f.getArguments()) {
    auto features = f.getArgAttrOfType<FlatSymbolRefAttr>(arg.getArgNumber(), step::kFeaturesAttr);
    auto output = f.getArgAttrOfType<IntegerAttr>(arg.getArgNumber(), step::kOutputAttr);
    auto source = features ? SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(f, features)
                           : func::FuncOp();
    if (!source || !output || output.getInt() >= source.getNumResults())
      continue;
    Type better = refine(arg.getType(), source.getResultTypes()[output.getInt()]);
    if (better != arg.getType()) {
      arg.setType(better);
      changed = true;
    }
  }
  if (changed)
    f.setType(FunctionType::get(f.getContext(), f.getBody().front().getArgumentTypes(),
                                f.getResultTypes()));
  return changed;
}

LogicalResult ShapeInference::run() {
  auto graphs = llvm::to_vector(module_.getOps<func::FuncOp>());
  for (size_t round = 0; round <= graphs.size(); ++round) {
    bool changed = false;
    for (func::FuncOp f : graphs) {
      if (f.isExternal())
        continue;
      changed |= refineFeatureArguments(f);
      FailureOr<bool> c = refineGraph(f);
      if (failed(c))
        return failure();
      changed |= *c;
    }
    if (!changed)
      break;
  }
  if (explain_ && refined_)
    module_.emitRemark() << "refined " << refined_ << " result type" << (refined_ == 1 ? "" : "s");
  return success();
}

struct StepInferShapes : expc::impl::StepInferShapesBase<StepInferShapes> {
  using StepInferShapesBase::StepInferShapesBase;

  void runOnOperation() override {
    if (failed(ShapeInference(getOperation(), explain).run()))
      signalPassFailure();
  }
};

} // namespace
