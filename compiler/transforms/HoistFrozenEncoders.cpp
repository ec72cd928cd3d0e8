//===- HoistFrozenEncoders.cpp - frozen per-row work out of the loop ------===//
//
// Loop-invariant code motion across the training loop. See the pass
// description in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "transforms/Passes.h"

#include "dialects/exp/ExpDialect.h"
#include "dialects/step/StepDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SetVector.h"

namespace expc {
#define GEN_PASS_DEF_STEPHOISTFROZENENCODERS
#include "transforms/Passes.h.inc"
} // namespace expc

using namespace mlir;
namespace step = expc::step;

namespace {

// What a value is, seen from the training loop.
enum class Kind {
  Varying, // changes between steps: trainable parameters, randomness, losses
  Shared,  // the same for every row and every step: frozen parameters, constants
  PerRow,  // a fixed function of one dataset row
};

class Hoister {
public:
  // `augmentedImages`: the graph's image columns are augmented afresh every
  // step, so they vary like a parameter does; so do the `sampled` columns
  // (drawn afresh for every batch).
  Hoister(ModuleOp module, func::FuncOp graph, bool explain, bool augmentedImages,
          ArrayRef<StringRef> sampled)
      : module_(module), graph_(graph), symbols_(module), explain_(explain),
        augmentedImages_(augmentedImages), sampled_(sampled.begin(), sampled.end()) {}

  // Moves the frozen per-row slice of the graph into a features graph, or
  // into the one of `existing` that computes the same. Returns it, or null
  // when there is nothing to hoist.
  func::FuncOp run(ArrayRef<func::FuncOp> existing);

private:
  Kind classify(Operation *op);
  Kind kindOf(Value v) {
    if (auto arg = dyn_cast<BlockArgument>(v))
      return graph_.getArgAttr(arg.getArgNumber(), step::kColumnAttr) && !variesPerStep(arg)
                 ? Kind::PerRow
                 : Kind::Varying;
    return kinds_.lookup(v.getDefiningOp());
  }
  // An image column (a batch of [C, H, W]) of a graph whose images are
  // augmented, or a column sampled afresh for every batch.
  bool variesPerStep(BlockArgument arg) {
    auto t = dyn_cast<RankedTensorType>(arg.getType());
    auto column = graph_.getArgAttrOfType<StringAttr>(arg.getArgNumber(), step::kColumnAttr);
    return (augmentedImages_ && t && t.getRank() == 4) ||
           (column && llvm::is_contained(sampled_, column.getValue()));
  }
  bool readsFrozenParameter(Value v, llvm::SetVector<Operation *> &slice);
  void explainBlocked(Operation *op);

  ModuleOp module_;
  func::FuncOp graph_;
  SymbolTable symbols_;
  bool explain_, augmentedImages_;
  SmallVector<StringRef> sampled_;
  llvm::DenseMap<Operation *, Kind> kinds_;
  bool explained_ = false;
};

Kind Hoister::classify(Operation *op) {
  if (auto p = dyn_cast<step::ParamOp>(op)) {
    auto def = symbols_.lookup<step::ParameterOp>(p.getParameter());
    return def && def.getFrozen() ? Kind::Shared : Kind::Varying;
  }
  if (isa<step::ConstantOp>(op))
    return Kind::Shared;
  // Only row-wise, side-effect-free ops keep a row's value a function of
  // that row: a similarity matmul mixes rows, dropout draws a new mask.
  if (!op->hasTrait<step::RowWise>() || !isPure(op))
    return Kind::Varying;
  Kind k = Kind::Shared;
  for (Value v : op->getOperands()) {
    Kind o = kindOf(v);
    if (o == Kind::Varying)
      return Kind::Varying;
    if (o == Kind::PerRow)
      k = Kind::PerRow;
  }
  return k;
}

// Collects the ops `v` is computed from; true when one reads a frozen
// parameter (a per-row value without one is a cheap function of a column,
// not worth caching).
bool Hoister::readsFrozenParameter(Value v, llvm::SetVector<Operation *> &slice) {
  bool frozen = false;
  SmallVector<Value> work{v};
  while (!work.empty()) {
    Operation *def = work.pop_back_val().getDefiningOp();
    if (!def || !slice.insert(def))
      continue;
    frozen |= isa<step::ParamOp>(def);
    llvm::append_range(work, def->getOperands());
  }
  return frozen;
}

// With `explain`: the first op that reads a frozen parameter but stays in
// the step, and which of its operands keeps it there.
void Hoister::explainBlocked(Operation *op) {
  if (!explain_ || explained_ || kinds_.lookup(op) != Kind::Varying)
    return;
  bool readsFrozen = llvm::any_of(op->getOperands(), [&](Value v) {
    return v.getDefiningOp<step::ParamOp>() && kindOf(v) == Kind::Shared;
  });
  if (!readsFrozen)
    return;
  explained_ = true;
  if (!op->hasTrait<step::RowWise>() || !isPure(op)) {
    op->emitRemark() << "not hoisted: reads a frozen parameter, but "
                     << (isPure(op) ? "mixes the rows of a batch" : "draws random numbers");
    return;
  }
  for (Value v : op->getOperands())
    if (kindOf(v) == Kind::Varying) {
      InFlightDiagnostic d = op->emitRemark() << "not hoisted: reads a frozen parameter, but its input ";
      if (Operation *def = v.getDefiningOp())
        d << "comes from '" << def->getName() << "', which changes between steps";
      else if (variesPerStep(cast<BlockArgument>(v)))
        d << "is a column the dataset's `augment` or `pairing` changes every step";
      else
        d << "is not a dataset column";
      return;
    }
}

// An existing features graph computing the same as `f`, if any.
func::FuncOp findEquivalent(ArrayRef<func::FuncOp> existing, func::FuncOp f) {
  for (func::FuncOp g : existing)
    if (g.getFunctionType() == f.getFunctionType() && g.getArgAttrsAttr() == f.getArgAttrsAttr() &&
        OperationEquivalence::isRegionEquivalentTo(&g.getBody(), &f.getBody(),
                                                   OperationEquivalence::IgnoreLocations))
      return g;
  return nullptr;
}

func::FuncOp Hoister::run(ArrayRef<func::FuncOp> existing) {
  Block &body = graph_.getBody().front();
  for (Operation &op : body)
    kinds_[&op] = classify(&op);
  for (Operation &op : body)
    explainBlocked(&op);

  // The frontier: per-row values that something varying (or the graph's
  // result) uses. They become the features graph's outputs.
  llvm::SetVector<Value> frontier;
  llvm::SetVector<Operation *> slice;
  for (Operation &op : body) {
    if (kinds_[&op] != Kind::PerRow)
      continue;
    Value v = op.getResult(0);
    bool usedByVarying = llvm::any_of(v.getUsers(), [&](Operation *user) {
      return kinds_.lookup(user) != Kind::PerRow;
    });
    llvm::SetVector<Operation *> ops;
    if (usedByVarying && readsFrozenParameter(v, ops)) {
      frontier.insert(v);
      slice.insert(ops.begin(), ops.end());
    }
  }
  if (frontier.empty())
    return nullptr;

  // The features graph: the slice, cloned in order, over the columns it reads.
  OpBuilder mb(graph_);
  std::string name = ("features_" + graph_.getSymName()).str();
  auto features = mb.create<func::FuncOp>(graph_.getLoc(), name, mb.getFunctionType({}, {}));
  symbols_.insert(features);
  Block *entry = features.addEntryBlock();
  OpBuilder fb = OpBuilder::atBlockEnd(entry);
  IRMapping map;
  SmallVector<Attribute> columns;
  for (BlockArgument arg : graph_.getArguments()) {
    bool used = llvm::any_of(arg.getUsers(), [&](Operation *u) { return slice.contains(u); });
    if (!used)
      continue;
    map.map(arg, entry->addArgument(arg.getType(), arg.getLoc()));
    columns.push_back(graph_.getArgAttr(arg.getArgNumber(), step::kColumnAttr));
  }
  for (Operation &op : body)
    if (slice.contains(&op))
      fb.clone(op, map);
  SmallVector<Value> outputs;
  for (Value v : frontier)
    outputs.push_back(map.lookup(v));
  fb.create<func::ReturnOp>(graph_.getLoc(), outputs);
  features.setType(fb.getFunctionType(entry->getArgumentTypes(), ValueRange(outputs).getTypes()));
  for (auto [i, column] : llvm::enumerate(columns))
    features.setArgAttr(i, step::kColumnAttr, column);
  // The training step and an evaluation applying the same frozen backbone
  // share one features graph.
  if (func::FuncOp same = findEquivalent(existing, features)) {
    symbols_.erase(features);
    features = same;
  }

  // The step reads the cache: one new argument per output; what only fed
  // the hoisted values is now dead.
  for (auto [i, v] : llvm::enumerate(frontier)) {
    unsigned n = graph_.getNumArguments();
    graph_.insertArgument(n, v.getType(), {}, v.getLoc());
    graph_.setArgAttr(n, step::kFeaturesAttr, FlatSymbolRefAttr::get(features));
    graph_.setArgAttr(n, step::kOutputAttr, mb.getI64IntegerAttr(i));
    Value(v).replaceAllUsesWith(graph_.getArgument(n));
    if (explain_)
      v.getDefiningOp()->emitRemark()
          << "hoisted out of '" << graph_.getSymName() << "': " << slice.size()
          << " ops over frozen parameters run once per row; the step reads " << v.getType()
          << " from '" << features.getSymName() << "'";
  }
  for (Operation &op : llvm::make_early_inc_range(llvm::reverse(body)))
    if (isOpTriviallyDead(&op))
      op.erase();
  llvm::BitVector unused(graph_.getNumArguments());
  for (BlockArgument arg : graph_.getArguments())
    if (arg.use_empty())
      unused.set(arg.getArgNumber());
  graph_.eraseArguments(unused);
  return features;
}

struct StepHoistFrozenEncoders
    : expc::impl::StepHoistFrozenEncodersBase<StepHoistFrozenEncoders> {
  using StepHoistFrozenEncodersBase::StepHoistFrozenEncodersBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    // The training graph and the evaluation graphs over dataset rows (not the
    // label-set graphs recall_at evaluates per class).
    llvm::SetVector<func::FuncOp> graphs;
    func::FuncOp trainGraph;
    bool augmented = false;
    SmallVector<StringRef> sampled;
    Operation *firstDirective = nullptr;
    auto add = [&](Operation *user, FlatSymbolRefAttr ref) {
      auto g = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(user, ref);
      if (g && !g->hasAttr(step::kRowsAttr))
        graphs.insert(g);
      if (!firstDirective)
        firstDirective = user;
    };
    for (Operation &op : module.getBody()->getOperations()) {
      if (auto src = dyn_cast<step::SourceOp>(op)) {
        augmented = static_cast<bool>(src.getAugmentAttr());
        sampled = expc::expd::sampledColumns(src.getKind(), src.getParams(), src.getBag());
      }
      if (auto loop = dyn_cast<step::TrainLoopOp>(op)) {
        add(loop, loop.getGraphAttr());
        trainGraph = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(loop, loop.getGraphAttr());
      } else if (auto eval = dyn_cast<step::EvaluateOp>(op))
        for (Attribute a : eval.getGraphs())
          add(eval, cast<FlatSymbolRefAttr>(a));
    }
    // One features graph, and one precompute, per distinct frozen computation.
    SmallVector<func::FuncOp> features;
    for (func::FuncOp graph : graphs) {
      // Augmentation applies to training batches only.
      bool training = graph == trainGraph;
      func::FuncOp f = Hoister(module, graph, explain, augmented && training,
                               training ? ArrayRef<StringRef>(sampled) : ArrayRef<StringRef>())
                           .run(features);
      if (!f || llvm::is_contained(features, f))
        continue;
      features.push_back(f);
      OpBuilder(firstDirective).create<step::PrecomputeOp>(f.getLoc(), FlatSymbolRefAttr::get(f));
    }
  }
};

} // namespace
