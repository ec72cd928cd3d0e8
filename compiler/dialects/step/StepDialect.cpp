#include "dialects/step/StepDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace expc::step;

#include "dialects/step/StepDialect.cpp.inc"

#define GET_OP_CLASSES
#include "dialects/step/StepOps.cpp.inc"

void StepDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/step/StepOps.cpp.inc"
      >();
}

LogicalResult ParameterOp::verify() {
  auto t = dyn_cast<RankedTensorType>(getType());
  if (!t || !t.hasStaticShape() || !t.getElementType().isF32())
    return emitOpError() << "must have a static f32 tensor type, got " << getType();
  StringRef init = getInit();
  if (init != "uniform" && init != "normal" && init != "constant")
    return emitOpError() << "unknown init '" << init << "'";
  return success();
}

LogicalResult ParamOp::verifySymbolUses(SymbolTableCollection &symbols) {
  auto p = symbols.lookupNearestSymbolFrom<ParameterOp>(*this, getParameterAttr());
  if (!p)
    return emitOpError() << "'" << getParameter() << "' does not name a step.parameter";
  if (p.getType() != getType())
    return emitOpError() << "type " << getType() << " does not match parameter type "
                         << p.getType();
  return success();
}

LogicalResult DropoutOp::verify() {
  double p = getP().convertToDouble();
  if (!(p >= 0 && p < 1))
    return emitOpError() << "probability must be in [0, 1), got " << p;
  return success();
}

LogicalResult ReshapeOp::verify() {
  auto x = dyn_cast<RankedTensorType>(getInput().getType());
  auto r = dyn_cast<RankedTensorType>(getResult().getType());
  if (!x || !r || x.getRank() < 1 || r.getRank() < 1)
    return emitOpError() << "needs ranked tensors with a batch dimension";
  if (x.getElementType() != r.getElementType())
    return emitOpError() << "cannot change the element type";
  auto row = [](RankedTensorType t) -> int64_t {
    int64_t n = 1;
    for (int64_t d : t.getShape().drop_front())
      if (ShapedType::isDynamic(d))
        return -1;
      else
        n *= d;
    return n;
  };
  if (row(x) < 0 || row(r) < 0)
    return emitOpError() << "only the batch dimension may be dynamic";
  if (row(x) != row(r))
    return emitOpError() << "rows of " << row(x) << " elements cannot become rows of " << row(r);
  return success();
}

// Graph arguments name what they read: a dataset column, or one output of a
// precomputed features graph.
LogicalResult StepDialect::verifyRegionArgAttribute(Operation *op, unsigned, unsigned argIndex,
                                                    NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  if (name == kColumnAttr && !isa<StringAttr>(attr.getValue()))
    return op->emitOpError() << "argument " << argIndex << ": " << kColumnAttr
                             << " must be a string";
  if (name == kFeaturesAttr && !isa<FlatSymbolRefAttr>(attr.getValue()))
    return op->emitOpError() << "argument " << argIndex << ": " << kFeaturesAttr
                             << " must name a graph";
  if (name == kOutputAttr && !isa<IntegerAttr>(attr.getValue()))
    return op->emitOpError() << "argument " << argIndex << ": " << kOutputAttr
                             << " must be an integer";
  return success();
}

namespace {

// Every argument of `f` reads a dataset column (`why` says why it must).
LogicalResult verifyColumnsOnly(Operation *user, func::FuncOp f, StringRef why) {
  for (unsigned i = 0; i < f.getNumArguments(); ++i)
    if (!f.getArgAttr(i, kColumnAttr))
      return user->emitOpError() << "graph '" << f.getSymName() << "' argument " << i
                                 << " must read a dataset column" << why;
  return success();
}

// Every argument of `f` reads a column or a precomputed output of the right type.
LogicalResult verifyGraphInputs(Operation *user, func::FuncOp f, SymbolTableCollection &symbols) {
  for (unsigned i = 0; i < f.getNumArguments(); ++i) {
    if (f.getArgAttr(i, kColumnAttr))
      continue;
    auto features = f.getArgAttrOfType<FlatSymbolRefAttr>(i, kFeaturesAttr);
    auto output = f.getArgAttrOfType<IntegerAttr>(i, kOutputAttr);
    if (!features || !output)
      return user->emitOpError() << "graph '" << f.getSymName() << "' argument " << i
                                 << " has neither " << kColumnAttr << " nor " << kFeaturesAttr
                                 << " and " << kOutputAttr;
    auto source = symbols.lookupNearestSymbolFrom<func::FuncOp>(user, features);
    if (!source)
      return user->emitOpError() << "graph '" << f.getSymName() << "' argument " << i
                                 << " reads features of unknown graph '" << features.getValue()
                                 << "'";
    ArrayRef<Type> results = source.getFunctionType().getResults();
    int64_t k = output.getInt();
    if (k < 0 || k >= static_cast<int64_t>(results.size()))
      return user->emitOpError() << "graph '" << f.getSymName() << "' argument " << i
                                 << " reads output " << k << " of '" << features.getValue()
                                 << "', which has " << results.size();
    if (results[k] != f.getArgumentTypes()[i])
      return user->emitOpError() << "graph '" << f.getSymName() << "' argument " << i << " has type "
                                 << f.getArgumentTypes()[i] << " but reads " << results[k];
    bool precomputed = false;
    user->getParentOp()->walk([&](PrecomputeOp p) {
      precomputed |= p.getGraph() == features.getValue();
    });
    if (!precomputed)
      return user->emitOpError() << "graph '" << f.getSymName() << "' reads features of '"
                                 << features.getValue() << "', which no step.precompute computes";
  }
  return success();
}

} // namespace

LogicalResult TrainLoopOp::verifySymbolUses(SymbolTableCollection &symbols) {
  auto f = symbols.lookupNearestSymbolFrom<func::FuncOp>(*this, getGraphAttr());
  if (!f)
    return emitOpError() << "'" << getGraph() << "' does not name a graph";
  auto results = f.getFunctionType().getResults();
  if (results.size() != 1 || !isa<RankedTensorType>(results[0]) ||
      cast<RankedTensorType>(results[0]).getRank() != 0)
    return emitOpError() << "graph '" << getGraph() << "' must return one scalar loss";
  return verifyGraphInputs(*this, f, symbols);
}

LogicalResult EvaluateOp::verifySymbolUses(SymbolTableCollection &symbols) {
  for (Attribute a : getGraphs()) {
    auto ref = cast<FlatSymbolRefAttr>(a);
    auto f = symbols.lookupNearestSymbolFrom<func::FuncOp>(*this, ref);
    if (!f)
      return emitOpError() << "'" << ref.getValue() << "' does not name a graph";
    if (f.getFunctionType().getNumResults() != 1)
      return emitOpError() << "graph '" << ref.getValue() << "' must return one embedding";
    // Precomputed features are per dataset row; a graph over the label set
    // (recall_at's candidates) reads its column directly.
    if (failed(f->hasAttr(kRowsAttr)
                   ? verifyColumnsOnly(*this, f, " (step.column): the graph is not over dataset rows")
                   : verifyGraphInputs(*this, f, symbols)))
      return failure();
  }
  return success();
}

// Computing a graph once is sound only when it reads columns, frozen
// parameters and constants, and draws no random numbers.
LogicalResult PrecomputeOp::verifySymbolUses(SymbolTableCollection &symbols) {
  auto f = symbols.lookupNearestSymbolFrom<func::FuncOp>(*this, getGraphAttr());
  if (!f)
    return emitOpError() << "'" << getGraph() << "' does not name a graph";
  if (failed(verifyColumnsOnly(*this, f, "")))
    return failure();
  if (f.getFunctionType().getNumResults() == 0)
    return emitOpError() << "graph '" << getGraph() << "' returns nothing";
  WalkResult r = f.walk([&](Operation *op) -> WalkResult {
    if (auto p = dyn_cast<ParamOp>(op)) {
      auto def = symbols.lookupNearestSymbolFrom<ParameterOp>(*this, p.getParameterAttr());
      if (def && !def.getFrozen()) {
        emitOpError() << "graph '" << getGraph() << "' reads trainable parameter '"
                      << p.getParameter() << "'; only frozen parameters can be precomputed";
        return WalkResult::interrupt();
      }
    } else if (isa<DropoutOp>(op)) {
      emitOpError() << "graph '" << getGraph() << "' draws random numbers (step.dropout)";
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return failure(r.wasInterrupted());
}


// The body is a chain of elementwise ops over its arguments, of one shape,
// ending in the yield of the group's results.
LogicalResult FusionOp::verify() {
  Block &body = getBody().front();
  if (body.getArgumentTypes() != getInputs().getTypes())
    return emitOpError() << "block arguments must have the types of the inputs";
  auto yield = dyn_cast<YieldOp>(body.getTerminator());
  if (!yield)
    return emitOpError() << "body must end in step.yield";
  if (yield.getValues().getTypes() != getResultTypes())
    return emitOpError() << "yields " << yield.getValues().getTypes().size()
                         << " values whose types differ from the results";
  if (getNumResults() == 0)
    return emitOpError() << "must produce at least one result";
  Type shape = getResult(0).getType();
  for (Operation &op : body.without_terminator()) {
    if (!op.hasTrait<Elementwise>())
      return op.emitOpError() << "is not elementwise; it cannot be part of a step.fusion group";
    if (op.getResult(0).getType() != shape)
      return op.emitOpError() << "has type " << op.getResult(0).getType()
                              << ", but the group computes " << shape;
  }
  return success();
}
