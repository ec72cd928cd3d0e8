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

namespace {

// Two dimensions agree when equal or when either is the dynamic batch size.
bool dimsAgree(int64_t a, int64_t b) {
  return a == b || ShapedType::isDynamic(a) || ShapedType::isDynamic(b);
}

RankedTensorType ranked(Value v) { return dyn_cast<RankedTensorType>(v.getType()); }

// Checks that `v` is a ranked tensor of rank `rank`.
LogicalResult expectRank(Operation *op, Value v, int64_t rank, StringRef what) {
  auto t = ranked(v);
  if (!t || t.getRank() != rank)
    return op->emitOpError() << what << " must be a rank-" << rank << " tensor, got "
                             << v.getType();
  return success();
}

// Checks the result has exactly `shape`.
LogicalResult expectShape(Operation *op, Value result, ArrayRef<int64_t> shape) {
  auto t = ranked(result);
  if (!t || t.getRank() != static_cast<int64_t>(shape.size()))
    return op->emitOpError() << "result must have rank " << shape.size();
  for (size_t i = 0; i < shape.size(); ++i)
    if (!dimsAgree(t.getDimSize(i), shape[i]))
      return op->emitOpError() << "result dimension " << i << " is " << t.getDimSize(i)
                               << ", expected " << shape[i];
  return success();
}

// Elementwise binary ops: same shape, or a scalar right-hand side.
LogicalResult verifyElementwise(Operation *op) {
  auto l = ranked(op->getOperand(0)), r = ranked(op->getOperand(1));
  if (!l || !r)
    return op->emitOpError() << "operands must be ranked tensors";
  if (r.getRank() != 0 && r.getShape() != l.getShape() &&
      !(r.getRank() == l.getRank() &&
        llvm::all_of(llvm::zip(l.getShape(), r.getShape()),
                     [](auto p) { return dimsAgree(std::get<0>(p), std::get<1>(p)); })))
    return op->emitOpError() << "operand shapes " << l << " and " << r << " do not match";
  return expectShape(op, op->getResult(0), l.getShape());
}

} // namespace

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

namespace {

// Image ops read (N, ..., C, H, W): at least rank 4; dimensions between the
// batch and C (bags, channels encoded separately) pass through.
FailureOr<RankedTensorType> imageInput(Operation *op, Value v) {
  auto t = ranked(v);
  if (!t || t.getRank() < 4)
    return op->emitOpError() << "input must be (N, ..., C, H, W), got " << v.getType();
  return t;
}

// The result shape: the input's leading dimensions, then `tail`.
SmallVector<int64_t> withLeading(RankedTensorType x, int64_t keep, ArrayRef<int64_t> tail) {
  SmallVector<int64_t> shape(x.getShape().take_front(x.getRank() - keep));
  shape.append(tail.begin(), tail.end());
  return shape;
}

} // namespace

LogicalResult Conv2dOp::verify() {
  FailureOr<RankedTensorType> in = imageInput(*this, getInput());
  if (failed(in) || failed(expectRank(*this, getWeight(), 4, "weight")))
    return failure();
  auto x = *in, w = ranked(getWeight()), b = ranked(getBias());
  ArrayRef<int64_t> chw = x.getShape().take_back(3);
  if (!b || b.getRank() > 1)
    return emitOpError() << "bias must be a rank-1 tensor (or rank-0 for none), got " << getBias().getType();
  if (!dimsAgree(chw[0], w.getDimSize(1)))
    return emitOpError() << "input has " << chw[0] << " channels but the weight takes "
                         << w.getDimSize(1);
  if (b.getRank() == 1 && !dimsAgree(b.getDimSize(0), w.getDimSize(0)))
    return emitOpError() << "bias has " << b.getDimSize(0) << " entries for "
                         << w.getDimSize(0) << " output channels";
  int64_t s = getStride(), p = getPadding();
  if (s < 1 || p < 0)
    return emitOpError() << "needs stride >= 1 and padding >= 0";
  auto out = [&](int64_t in, int64_t k) {
    return ShapedType::isDynamic(in) ? in : (in + 2 * p - k) / s + 1;
  };
  return expectShape(*this, getResult(),
                     withLeading(x, 3, {w.getDimSize(0), out(chw[1], w.getDimSize(2)),
                                        out(chw[2], w.getDimSize(3))}));
}

LogicalResult MaxPool2dOp::verify() {
  FailureOr<RankedTensorType> in = imageInput(*this, getInput());
  if (failed(in))
    return failure();
  if (getKernel() < 1 || getStride() < 1 || getPadding() < 0 || 2 * getPadding() > getKernel())
    return emitOpError() << "needs kernel and stride >= 1 and padding at most half the kernel";
  ArrayRef<int64_t> chw = in->getShape().take_back(3);
  int64_t k = getKernel(), s = getStride(), p = getPadding();
  auto out = [&](int64_t in) -> int64_t {
    return ShapedType::isDynamic(in) ? in : (in + 2 * p - k) / s + 1;
  };
  if (!ShapedType::isDynamic(chw[1]) && chw[1] + 2 * p < k)
    return emitOpError() << "input of height " << chw[1] << " is smaller than the kernel";
  return expectShape(*this, getResult(), withLeading(*in, 3, {chw[0], out(chw[1]), out(chw[2])}));
}

LogicalResult GlobalAvgPoolOp::verify() {
  FailureOr<RankedTensorType> in = imageInput(*this, getInput());
  if (failed(in))
    return failure();
  return expectShape(*this, getResult(), withLeading(*in, 3, {in->getShape().take_back(3)[0]}));
}

LogicalResult PerChannelOp::verify() {
  FailureOr<RankedTensorType> in = imageInput(*this, getInput());
  if (failed(in))
    return failure();
  if (getCopies() < 1)
    return emitOpError() << "needs copies >= 1";
  ArrayRef<int64_t> chw = in->getShape().take_back(3);
  return expectShape(*this, getResult(), withLeading(*in, 3, {chw[0], getCopies(), chw[1], chw[2]}));
}

LogicalResult LinearOp::verify() {
  auto x = ranked(getInput()), b = ranked(getBias());
  if (!x || x.getRank() < 2)
    return emitOpError() << "input must have a batch and a feature dimension, got " << getInput().getType();
  if (failed(expectRank(*this, getWeight(), 2, "weight")))
    return failure();
  if (!b || b.getRank() > 1)
    return emitOpError() << "bias must be a rank-1 tensor (or rank-0 for none), got " << getBias().getType();
  auto w = ranked(getWeight());
  int64_t last = x.getRank() - 1;
  if (!dimsAgree(x.getDimSize(last), w.getDimSize(1)))
    return emitOpError() << "input width " << x.getDimSize(last) << " does not match weight width "
                         << w.getDimSize(1);
  if (b.getRank() == 1 && !dimsAgree(b.getDimSize(0), w.getDimSize(0)))
    return emitOpError() << "bias has " << b.getDimSize(0) << " entries for " << w.getDimSize(0)
                         << " outputs";
  SmallVector<int64_t> shape(x.getShape());
  shape.back() = w.getDimSize(0);
  return expectShape(*this, getResult(), shape);
}

LogicalResult DropoutOp::verify() {
  double p = getP().convertToDouble();
  if (!(p >= 0 && p < 1))
    return emitOpError() << "probability must be in [0, 1), got " << p;
  return success();
}

LogicalResult LayerNormOp::verify() {
  auto x = ranked(getInput());
  if (!x || x.getRank() < 2)
    return emitOpError() << "input must have a batch and a feature dimension";
  int64_t d = x.getDimSize(x.getRank() - 1);
  for (auto [v, what] : {std::pair{getWeight(), "weight"}, std::pair{getBias(), "bias"}}) {
    if (failed(expectRank(*this, v, 1, what)))
      return failure();
    if (!dimsAgree(ranked(v).getDimSize(0), d))
      return emitOpError() << what << " has " << ranked(v).getDimSize(0) << " entries for width " << d;
  }
  if (!(getEps().convertToDouble() > 0))
    return emitOpError() << "eps must be positive";
  return expectShape(*this, getResult(), x.getShape());
}

LogicalResult ReshapeOp::verify() {
  auto x = ranked(getInput()), r = ranked(getResult());
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

LogicalResult ConcatOp::verify() {
  auto l = ranked(getLhs()), r = ranked(getRhs());
  if (!l || !r || l.getRank() != r.getRank() || l.getRank() < 2)
    return emitOpError() << "operands must have the same rank, at least 2";
  SmallVector<int64_t> shape(l.getShape());
  for (int64_t i = 0; i + 1 < l.getRank(); ++i)
    if (!dimsAgree(l.getDimSize(i), r.getDimSize(i)))
      return emitOpError() << "operands differ in dimension " << i;
  shape.back() = l.getShape().back() + r.getShape().back();
  return expectShape(*this, getResult(), shape);
}

LogicalResult SubOp::verify() { return verifyElementwise(*this); }

LogicalResult EmbeddingLookupOp::verify() {
  if (failed(expectRank(*this, getTable(), 2, "table")) ||
      failed(expectRank(*this, getIndices(), 1, "indices")))
    return failure();
  auto t = ranked(getTable()), i = ranked(getIndices());
  return expectShape(*this, getResult(), {i.getDimSize(0), t.getDimSize(1)});
}

LogicalResult MatmulOp::verify() {
  if (failed(expectRank(*this, getLhs(), 2, "lhs")) ||
      failed(expectRank(*this, getRhs(), 2, "rhs")))
    return failure();
  auto a = ranked(getLhs()), b = ranked(getRhs());
  int64_t inner = getTransposeB() ? b.getDimSize(1) : b.getDimSize(0);
  int64_t cols = getTransposeB() ? b.getDimSize(0) : b.getDimSize(1);
  if (!dimsAgree(a.getDimSize(1), inner))
    return emitOpError() << "inner dimensions " << a.getDimSize(1) << " and " << inner
                         << " do not match";
  return expectShape(*this, getResult(), {a.getDimSize(0), cols});
}

LogicalResult TransposeOp::verify() {
  if (failed(expectRank(*this, getInput(), 2, "input")))
    return failure();
  auto x = ranked(getInput());
  return expectShape(*this, getResult(), {x.getDimSize(1), x.getDimSize(0)});
}

LogicalResult MulOp::verify() { return verifyElementwise(*this); }
LogicalResult AddOp::verify() { return verifyElementwise(*this); }

LogicalResult CrossEntropyOp::verify() {
  if (failed(expectRank(*this, getLogits(), 2, "logits")) ||
      failed(expectRank(*this, getTargets(), 1, "targets")))
    return failure();
  auto l = ranked(getLogits()), t = ranked(getTargets());
  if (!dimsAgree(l.getDimSize(0), t.getDimSize(0)))
    return emitOpError() << "has " << l.getDimSize(0) << " rows of logits but "
                         << t.getDimSize(0) << " targets";
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

LogicalResult ContrastiveLossOp::verify() {
  if (getKind() != "clip" && getKind() != "infoloob")
    return emitOpError() << "unknown kind '" << getKind() << "'; expected 'clip' or 'infoloob'";
  if (failed(expectRank(*this, getLhs(), 2, "lhs")) || failed(expectRank(*this, getRhs(), 2, "rhs")))
    return failure();
  auto l = ranked(getLhs()), r = ranked(getRhs());
  if (!dimsAgree(l.getDimSize(0), r.getDimSize(0)) || !dimsAgree(l.getDimSize(1), r.getDimSize(1)))
    return emitOpError() << "pairs rows of " << l << " with rows of " << r
                         << "; both sides need the same batch and width";
  return success();
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
