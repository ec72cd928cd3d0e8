//===- LowerExpToStep.cpp - exp dialect -> step dialect -------------------===//
//
// Instantiates encoders and losses into step-level tensor graphs. See the
// pass description in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "transforms/Passes.h"
#include "transforms/LayerLowerings.h"

#include "dialects/exp/ExpDialect.h"
#include "dialects/exp/Objectives.h"
#include "dialects/step/StepDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringMap.h"

#include <cmath>

namespace expc {
#define GEN_PASS_DEF_EXPLOWERTOSTEP
#include "transforms/Passes.h.inc"
} // namespace expc

using namespace mlir;
namespace expd = expc::expd;
namespace step = expc::step;

namespace {

constexpr int64_t kBatch = ShapedType::kDynamic;

// Builds one graph (a func.func) by lowering exp values on demand.
class GraphBuilder {
public:
  GraphBuilder(ModuleOp module, Operation *anchor, SymbolTable &symbols, func::FuncOp func,
               bool training)
      : module_(module), anchor_(anchor), symbols_(symbols), func_(func),
        b_(func.getContext()), training_(training) {
    b_.setInsertionPointToEnd(&func.getBody().front());
  }

  FailureOr<Value> lower(Value v);
  // Each of `values`, lowered; failure at the first that cannot be.
  FailureOr<SmallVector<Value>> lowerAll(ValueRange values);
  void finish(Value result, Location loc);

private:
  RankedTensorType f32(ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, b_.getF32Type());
  }
  // A parameter read inside the graph; `buffer`: state the step updates
  // itself (batch norm's running statistics), never the optimiser.
  Value param(Location loc, StringRef name, ArrayRef<int64_t> shape, StringRef init,
              double scale, bool decay, std::optional<double> max = std::nullopt, bool buffer = false);
  // Parameters created while lowering a frozen encoder's network are frozen.
  bool frozen_ = false;
  // The weights file of the encoder being instantiated, and its parameters'
  // name prefix (names in the file are relative to the encoder).
  StringAttr weights_;
  std::string weightsPrefix_;
  // Dimensions between the batch and the network's own input, when an encoder
  // is applied over them (per channel, per site of a bag).
  SmallVector<int64_t> lead_;
  Value constant(Location loc, double v) {
    return b_.create<step::ConstantOp>(loc, b_.getF64FloatAttr(v));
  }
  FailureOr<Value> column(expd::ColumnOp op);
  FailureOr<Value> encode(expd::EncodeOp op);
  FailureOr<Value> side(expd::EncoderOp encoder, expd::EncodeOp op);
  FailureOr<Value> apply(expd::EncoderOp encoder, ValueRange inputs, Location loc);
  FailureOr<Value> layer(expd::LayerOp op, ArrayRef<Value> inputs, StringRef prefix);
  FailureOr<Value> contrastive(expd::ContrastiveOp op);
  FailureOr<Value> objective(expd::ObjectiveOp op);
  FailureOr<Value> weightedSum(expd::WeightedSumOp op);
  // The logit scale exp(s) of a temperature-scaled loss: s starts at
  // log(1 / t), learnable (clamped to log(max)) or fixed.
  Value logitScale(Location loc, StringRef name, double t, bool learnable, double max);
  // `v` lowered afresh with its image columns drawn as augmented view `view`.
  FailureOr<Value> inView(Value v, int64_t view);
  int64_t view_ = 0;

  ModuleOp module_;
  Operation *anchor_; // parameters go before it, at module level
  SymbolTable &symbols_;
  func::FuncOp func_;
  OpBuilder b_;
  bool training_; // the training graph (dropout active) or an evaluation graph
  DenseMap<Value, Value> lowered_;
  llvm::StringMap<Value> params_;
};

Value GraphBuilder::param(Location loc, StringRef name, ArrayRef<int64_t> shape, StringRef init,
                          double scale, bool decay, std::optional<double> max, bool buffer) {
  auto it = params_.find(name);
  if (it != params_.end())
    return it->second;
  RankedTensorType type = f32(shape);
  if (!symbols_.lookup(name)) {
    OpBuilder mb(anchor_);
    auto p = mb.create<step::ParameterOp>(loc, mb.getStringAttr(name), TypeAttr::get(type),
                                          mb.getStringAttr(init), mb.getF64FloatAttr(scale),
                                          mb.getBoolAttr(decay),
                                          max ? mb.getF64FloatAttr(*max) : FloatAttr(),
                                          frozen_ || buffer ? mb.getUnitAttr() : UnitAttr(),
                                          weights_ ? weights_ : StringAttr(),
                                          weights_ ? mb.getStringAttr(name.drop_front(weightsPrefix_.size()))
                                                   : StringAttr());
    symbols_.insert(p);
  }
  Value v = b_.create<step::ParamOp>(loc, type, FlatSymbolRefAttr::get(b_.getContext(), name));
  params_[name] = v;
  return v;
}

FailureOr<Value> GraphBuilder::lower(Value v) {
  auto it = lowered_.find(v);
  if (it != lowered_.end())
    return it->second;
  Operation *def = v.getDefiningOp();
  FailureOr<Value> result = failure();
  if (auto op = dyn_cast_or_null<expd::ColumnOp>(def))
    result = column(op);
  else if (auto op = dyn_cast_or_null<expd::EncodeOp>(def))
    result = encode(op);
  else if (auto op = dyn_cast_or_null<expd::ContrastiveOp>(def))
    result = contrastive(op);
  else if (auto op = dyn_cast_or_null<expd::ObjectiveOp>(def))
    result = objective(op);
  else if (auto op = dyn_cast_or_null<expd::WeightedSumOp>(def))
    result = weightedSum(op);
  else if (def)
    return def->emitOpError() << "cannot be lowered into a step graph";
  else
    return emitError(v.getLoc()) << "cannot lower a block argument into a step graph";
  if (succeeded(result))
    lowered_[v] = *result;
  return result;
}

FailureOr<SmallVector<Value>> GraphBuilder::lowerAll(ValueRange values) {
  SmallVector<Value> out;
  for (Value v : values) {
    FailureOr<Value> x = lower(v);
    if (failed(x))
      return failure();
    out.push_back(*x);
  }
  return out;
}

// A column becomes a graph input, marked with the column it reads.
FailureOr<Value> GraphBuilder::column(expd::ColumnOp op) {
  Type t;
  if (auto images = dyn_cast<expd::ImagesType>(op.getType()))
    t = f32({kBatch, images.getChannels(), images.getHeight(), images.getWidth()});
  else if (auto bag = dyn_cast<expd::BagType>(op.getType()))
    t = f32({kBatch, bag.getCount(), bag.getElement().getChannels(),
             bag.getElement().getHeight(), bag.getElement().getWidth()});
  else
    t = RankedTensorType::get({kBatch}, b_.getI64Type());
  Block &entry = func_.getBody().front();
  BlockArgument arg = entry.addArgument(t, op.getLoc());
  func_.setType(b_.getFunctionType(entry.getArgumentTypes(), {}));
  func_.setArgAttr(arg.getArgNumber(), step::kColumnAttr, op.getColumnAttr());
  if (view_ > 0 && !isa<expd::LabelsType>(op.getType()))
    func_.setArgAttr(arg.getArgNumber(), step::kViewAttr, b_.getI64IntegerAttr(view_));
  if (auto labels = dyn_cast<expd::LabelsType>(op.getType()); labels && labels.getClasses() > 0)
    func_.setArgAttr(arg.getArgNumber(), step::kClassesAttr, b_.getI64IntegerAttr(labels.getClasses()));
  return Value(arg);
}

// Instantiates the encoder's network on its input.
FailureOr<Value> GraphBuilder::encode(expd::EncodeOp op) {
  auto encoder = symbols_.lookupNearestSymbolFrom<expd::EncoderOp>(op, op.getEncoderAttr());
  if (!encoder)
    return op.emitOpError() << "refers to an unknown encoder";
  if (expd::isSideKind(encoder.getKind()))
    return side(encoder, op);
  FailureOr<SmallVector<Value>> inputs = lowerAll(op.getOperands());
  if (failed(inputs))
    return failure();
  return apply(encoder, *inputs, op.getLoc());
}

// Side information becomes a graph input of its featurised vectors, read as
// column "side:NAME"; the argument says how to compute them (kind, the key
// column, the parameters), and the runtime does it once per run.
FailureOr<Value> GraphBuilder::side(expd::EncoderOp encoder, expd::EncodeOp op) {
  auto key = op.getInput().getDefiningOp<expd::ColumnOp>();
  if (!key)
    return op.emitOpError() << "keys side information '" << encoder.getSymName() << "' by a value that is not a column";
  // A knowledge graph is one [K, K] table shared by every batch; other sides
  // give each row its key's vector.
  RankedTensorType type;
  if (auto graph = dyn_cast<expd::KGraphType>(op.getType())) {
    if (graph.getClasses() <= 0)
      return op.emitOpError() << "builds knowledge graph '" << encoder.getSymName()
                              << "' over a labels column without a declared class count";
    type = f32({graph.getClasses(), graph.getClasses()});
  } else if (auto ids = dyn_cast<expd::TokenIdsType>(op.getType())) {
    type = RankedTensorType::get({kBatch, ids.getLength()}, b_.getI64Type());
  } else {
    type = f32({kBatch, cast<expd::EmbeddingType>(op.getType()).getDim()});
  }
  Block &entry = func_.getBody().front();
  BlockArgument arg = entry.addArgument(type, op.getLoc());
  func_.setType(b_.getFunctionType(entry.getArgumentTypes(), {}));
  func_.setArgAttr(arg.getArgNumber(), step::kColumnAttr, b_.getStringAttr("side:" + encoder.getSymName().str()));
  NamedAttrList how;
  how.append("kind", encoder.getKindAttr());
  how.append("key", key.getColumnAttr());
  how.append("params", encoder.getParams());
  func_.setArgAttr(arg.getArgNumber(), step::kSideAttr, how.getDictionary(b_.getContext()));
  return Value(arg);
}

// The encoder's (flat) network over batched inputs; its parameters are named
// after the encoder, so every application shares them.
FailureOr<Value> GraphBuilder::apply(expd::EncoderOp encoder, ValueRange inputs, Location loc) {
  auto ref = encoder.getNetworkAttr();
  if (!ref)
    return emitError(loc) << "pretrained encoder '" << encoder.getKind()
                          << "' has no step lowering (it needs its weights loaded)";
  auto net = SymbolTable::lookupNearestSymbolFrom<expd::NetworkOp>(encoder, ref);
  if (!net)
    return encoder.emitOpError() << "refers to an unknown network";
  Block &body = net.getBody().front();
  DenseMap<Value, Value> values;
  for (auto [arg, in] : llvm::zip(body.getArguments(), inputs))
    values[arg] = in;
  std::string prefix = encoder.getSymName().str() + ".";
  // A frozen encoder's parameters are frozen, including when a trainable
  // network applies it; a trainable encoder applied inside a frozen one is not.
  bool outerFrozen = frozen_;
  frozen_ = encoder.getFrozen();
  StringAttr outerWeights = weights_;
  std::string outerPrefix = weightsPrefix_;
  weights_ = encoder.getWeightsAttr();
  weightsPrefix_ = prefix;
  SmallVector<int64_t> outerLead = lead_;
  if (!inputs.empty()) {
    auto given = cast<RankedTensorType>(inputs[0].getType());
    auto declared = cast<RankedTensorType>(body.getArgument(0).getType());
    // The batch, then what the inputs have beyond the network's argument.
    lead_.assign(given.getShape().begin() + 1,
                 given.getShape().begin() + (given.getRank() - declared.getRank()));
  }
  auto restore = llvm::make_scope_exit([&] {
    frozen_ = outerFrozen;
    weights_ = outerWeights;
    weightsPrefix_ = outerPrefix;
    lead_ = outerLead;
  });
  for (Operation &op : body) {
    SmallVector<Value> operands;
    for (Value v : op.getOperands())
      operands.push_back(values.lookup(v));
    if (auto yield = dyn_cast<expd::YieldOp>(op))
      return operands[0];
    FailureOr<Value> result = failure();
    if (auto layer = dyn_cast<expd::LayerOp>(op)) {
      result = this->layer(layer, operands, prefix);
    } else if (auto applied = dyn_cast<expd::ApplyOp>(op)) {
      auto inner = symbols_.lookupNearestSymbolFrom<expd::EncoderOp>(applied, applied.getEncoderAttr());
      if (!inner)
        return applied.emitOpError() << "refers to an unknown encoder";
      result = apply(inner, operands, applied.getLoc());
    } else {
      return op.emitOpError() << "is not inlined; run exp-inline-networks first";
    }
    if (failed(result))
      return failure();
    values[op.getResult(0)] = *result;
  }
  return net.emitOpError() << "has no exp.yield";
}

// The GraphBuilder's services for one layer's lowering (LayerLowerings.h).
class GraphLayerContext : public expc::LayerContext {
public:
  GraphLayerContext(expd::LayerOp op, ArrayRef<Value> in, std::string name, RankedTensorType type,
                    OpBuilder &b, bool training, bool frozen,
                    function_ref<Value(StringRef, ArrayRef<int64_t>, StringRef, double, bool, bool)> param)
      : LayerContext(op, in, std::move(name), type, b, training, frozen), param_(param) {}
  Value param(StringRef suffix, ArrayRef<int64_t> shape, StringRef init, double scale, bool decay,
              bool buffer) override {
    return param_((name + suffix).str(), shape, init, scale, decay, buffer);
  }
  Value constant(double v) override { return b.create<step::ConstantOp>(loc(), b.getF64FloatAttr(v)); }

private:
  function_ref<Value(StringRef, ArrayRef<int64_t>, StringRef, double, bool, bool)> param_;
};

// One exp.layer as step ops, through its entry in the layer registry.
FailureOr<Value> GraphBuilder::layer(expd::LayerOp op, ArrayRef<Value> in, StringRef prefix) {
  expc::LayerLowering lower = expc::findLayerLowering(op.getLayer());
  if (!lower)
    return op.emitOpError() << "layer '" << op.getLayer() << "' has no step lowering";
  auto rowType = cast<RankedTensorType>(op.getType());
  SmallVector<int64_t> shape{kBatch};
  shape.append(lead_);
  shape.append(rowType.getShape().begin(), rowType.getShape().end());
  auto type = RankedTensorType::get(shape, rowType.getElementType());
  auto param = [&](StringRef name, ArrayRef<int64_t> paramShape, StringRef init, double scale, bool decay,
                   bool buffer) {
    return this->param(op.getLoc(), name, paramShape, init, scale, decay, std::nullopt, buffer);
  };
  GraphLayerContext context(op, in, (prefix + op.getName()).str(), type, b_, training_, frozen_, param);
  return lower(context);
}

Value GraphBuilder::logitScale(Location loc, StringRef name, double t, bool learnable, double max) {
  if (!learnable)
    return constant(loc, 1.0 / t);
  Value s = param(loc, (name + ".logit_scale").str(), {}, "constant", std::log(1.0 / t), false, std::log(max));
  return b_.create<step::ExpOp>(loc, s);
}

// CLIP: symmetric InfoNCE over cosine similarities scaled by exp(s).
FailureOr<Value> GraphBuilder::contrastive(expd::ContrastiveOp op) {
  FailureOr<Value> a = lower(op.getLhs()), b = lower(op.getRhs());
  if (failed(a) || failed(b))
    return failure();
  Location loc = op.getLoc();
  Value scale = logitScale(loc, op.getName(), op.getTemperature().convertToDouble(), op.getLearnableTemperature(),
                           op.getMaxLogitScale().convertToDouble());
  Value an = b_.create<step::L2NormalizeOp>(loc, *a);
  Value bn = b_.create<step::L2NormalizeOp>(loc, *b);
  Value sim = b_.create<step::MatmulOp>(loc, an, bn, b_.getBoolAttr(true));
  Value logits = b_.create<step::MulOp>(loc, sim, scale);
  Value targets = b_.create<step::ArangeRowsOp>(loc, logits);
  Value l1 = b_.create<step::CrossEntropyOp>(loc, logits, targets);
  Value lt = b_.create<step::TransposeOp>(loc, logits);
  Value l2 = b_.create<step::CrossEntropyOp>(loc, lt, targets);
  Value sum = b_.create<step::AddOp>(loc, l1, l2);
  return Value(b_.create<step::MulOp>(loc, sum, constant(loc, 0.5)));
}

FailureOr<Value> GraphBuilder::inView(Value v, int64_t view) {
  DenseMap<Value, Value> outer = std::move(lowered_);
  lowered_.clear();
  view_ = view;
  FailureOr<Value> result = lower(v);
  view_ = 0;
  lowered_ = std::move(outer);
  return result;
}

// The other objectives: one step.loss over the lowered inputs, plus what
// each kind's entry in the std.objectives registry adds (dialects/exp/
// Objectives.cpp): the parameters it learns and the settings the runtime
// reads (runtime/losses/Objectives.cpp lists the operand order).
FailureOr<Value> GraphBuilder::objective(expd::ObjectiveOp op) {
  const expd::ObjectiveKind *kind = expd::findObjectiveKind(op.getKind());
  if (!kind)
    return op.emitOpError() << "has no step lowering";
  struct Lowering : expd::ObjectiveLowering {
    Lowering(GraphBuilder &g, expd::ObjectiveOp op)
        : ObjectiveLowering(op.getParams(), op.getInputs(), op.getName().str(), g.b_), g(g), loc(op.getLoc()) {}
    Value param(StringRef suffix, ArrayRef<int64_t> shape, StringRef init, double scale, bool decay) override {
      return g.param(loc, name + suffix.str(), shape, init, scale, decay);
    }
    Value logitScale(double t, bool learnable, double max) override {
      return g.logitScale(loc, name, t, learnable, max);
    }
    GraphBuilder &g;
    Location loc;
  } lowering(*this, op);
  if (kind->views) { // two augmented views of the same rows
    for (int64_t view : {1, 2}) {
      FailureOr<Value> v = inView(op.getInputs()[0], view);
      if (failed(v))
        return failure();
      lowering.operands.push_back(*v);
    }
  } else {
    FailureOr<SmallVector<Value>> all = lowerAll(op.getInputs());
    if (failed(all))
      return failure();
    lowering.operands = std::move(*all);
  }
  lowering.runtimeKind = kind->name.str();
  kind->lower(lowering);
  return Value(b_.create<step::LossOp>(op.getLoc(), b_.getStringAttr(lowering.runtimeKind), lowering.operands,
                                       lowering.settings.getDictionary(b_.getContext())));
}

FailureOr<Value> GraphBuilder::weightedSum(expd::WeightedSumOp op) {
  Value total;
  for (auto [term, weight] : llvm::zip(op.getTerms(), op.getWeights())) {
    FailureOr<Value> v = lower(term);
    if (failed(v))
      return failure();
    Value scaled = weight == 1.0
                       ? *v
                       : Value(b_.create<step::MulOp>(op.getLoc(), *v, constant(op.getLoc(), weight)));
    total = total ? Value(b_.create<step::AddOp>(op.getLoc(), total, scaled)) : scaled;
  }
  return total;
}

void GraphBuilder::finish(Value result, Location loc) {
  b_.create<func::ReturnOp>(loc, result);
  Block &entry = func_.getBody().front();
  func_.setType(b_.getFunctionType(entry.getArgumentTypes(), {result.getType()}));
}

class ExperimentLowering {
public:
  ExperimentLowering(ModuleOp module, expd::ExperimentOp exp)
      : module_(module), exp_(exp), symbols_(module) {}

  LogicalResult run();

private:
  func::FuncOp newGraph(StringRef name, Location loc) {
    OpBuilder mb(exp_);
    auto f = mb.create<func::FuncOp>(loc, name, mb.getFunctionType({}, {}));
    f.addEntryBlock();
    symbols_.insert(f);
    return f;
  }

  ModuleOp module_;
  expd::ExperimentOp exp_;
  SymbolTable symbols_;
};

LogicalResult ExperimentLowering::run() {
  Block &body = exp_.getBody().front();
  auto datasets = llvm::to_vector(body.getOps<expd::DatasetOp>());
  auto trains = llvm::to_vector(body.getOps<expd::TrainOp>());
  if (datasets.size() != 1)
    return exp_.emitOpError() << "needs exactly one dataset, found " << datasets.size();
  if (trains.size() != 1)
    return exp_.emitOpError() << "needs exactly one exp.train, found " << trains.size();

  OpBuilder mb(exp_);
  expd::DatasetOp ds = datasets[0];
  mb.create<step::SourceOp>(ds.getLoc(), ds.getNameAttr(), ds.getSourceAttr(), ds.getParamsAttr(),
                           ds.getAugmentAttr(), ds.getValFractionAttr(), ds.getBagAttr(),
                           ds.getSelectAttr());

  // The training graph: columns -> scalar loss.
  expd::TrainOp train = trains[0];
  func::FuncOp trainFn = newGraph("train_step", train.getLoc());
  {
    GraphBuilder g(module_, exp_, symbols_, trainFn, /*training=*/true);
    FailureOr<Value> loss = g.lower(train.getObjective());
    if (failed(loss))
      return failure();
    g.finish(*loss, train.getLoc());
  }
  // step.train_loop keeps exp.train's settings (TrainSettings.td) and adds the graph.
  NamedAttrList settings(train->getAttrs());
  settings.set("graph", FlatSymbolRefAttr::get(trainFn));
  mb.create<step::TrainLoopOp>(train.getLoc(), TypeRange{}, ValueRange{}, settings);

  // Evaluation graphs: one per distinct embedding, shared between metrics.
  DenseMap<Value, func::FuncOp> embedGraphs;
  for (auto eval : body.getOps<expd::EvaluateOp>()) {
    SmallVector<Attribute> refs;
    for (Value input : eval.getInputs()) {
      func::FuncOp &f = embedGraphs[input];
      if (!f) {
        f = newGraph("embed_" + std::to_string(embedGraphs.size() - 1), input.getLoc());
        GraphBuilder g(module_, exp_, symbols_, f, /*training=*/false);
        FailureOr<Value> e = g.lower(input);
        if (failed(e))
          return failure();
        g.finish(*e, input.getLoc());
      }
      refs.push_back(FlatSymbolRefAttr::get(f));
    }
    NamedAttrList options(eval.getOptions());
    if (eval.getMetric() == "recall_at") {
      // Candidates are every class of the labels column the second graph
      // reads; candidates from per-row side information (a text side's
      // prompts) are the held-out wells' embeddings, averaged per
      // perturbation by the runtime.
      auto enc = eval.getInputs()[1].getDefiningOp<expd::EncodeOp>();
      auto labels = enc ? dyn_cast<expd::LabelsType>(enc.getInput().getType()) : nullptr;
      if (!labels && enc && enc.getInput().getDefiningOp<expd::EncodeOp>()) {
        options.set("candidates", mb.getStringAttr("rows"));
      } else {
        if (!labels)
          return eval.emitOpError() << "needs candidates encoded from a labels column";
        if (labels.getClasses() == 0)
          return eval.emitOpError() << "needs candidates from a labels column with a declared class count "
                                       "(this one is counted only when the data is read)";
        options.set("classes", mb.getI64IntegerAttr(labels.getClasses()));
        embedGraphs[eval.getInputs()[1]]->setAttr(step::kRowsAttr, mb.getStringAttr("classes"));
      }
    }
    mb.create<step::EvaluateOp>(eval.getLoc(), eval.getMetricAttr(), eval.getNameAttr(),
                                mb.getArrayAttr(refs), options.getDictionary(mb.getContext()));
  }
  exp_.erase();
  return success();
}

struct ExpLowerToStep : expc::impl::ExpLowerToStepBase<ExpLowerToStep> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto experiments = llvm::to_vector(module.getOps<expd::ExperimentOp>());
    for (expd::ExperimentOp exp : experiments)
      if (failed(ExperimentLowering(module, exp).run()))
        return signalPassFailure();
  }
};

} // namespace
