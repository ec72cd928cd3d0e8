//===- LowerExpToStep.cpp - exp dialect -> step dialect -------------------===//
//
// Instantiates encoders and losses into step-level tensor graphs. See the
// pass description in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "transforms/Passes.h"

#include "dialects/exp/ExpDialect.h"
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

template <typename OpTy, typename... Args> Value build(OpBuilder &b, Location loc, Args... args) {
  return b.create<OpTy>(loc, args...);
}

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
  // `built`'s result, after checking that the step op's shape function agrees
  // with the type semantic analysis gave the layer (two shape systems).
  FailureOr<Value> checked(expd::LayerOp layer, Operation *built, Type expected);
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

FailureOr<Value> GraphBuilder::checked(expd::LayerOp layer, Operation *built, Type expected) {
  Value v = built->getResult(0);
  if (v.getType() != expected)
    return layer.emitOpError() << "lowers to " << built->getName() << " of type " << v.getType()
                               << ", but semantic analysis gave it " << expected
                               << " (a compiler bug: the two shape rules disagree)";
  return v;
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

// One exp.layer as step ops. PyTorch's default initialisations: U(+-1/sqrt(fan_in))
// for linear and conv weights and biases, N(0, 1) for embedding tables, ones and
// zeros (without weight decay) for layer-norm affine parameters.
FailureOr<Value> GraphBuilder::layer(expd::LayerOp op, ArrayRef<Value> in, StringRef prefix) {
  Location loc = op.getLoc();
  StringRef kind = op.getLayer();
  DictionaryAttr cfg = op.getConfig();
  auto rowType = cast<RankedTensorType>(op.getType());
  SmallVector<int64_t> shape{kBatch};
  shape.append(lead_);
  shape.append(rowType.getShape().begin(), rowType.getShape().end());
  auto type = RankedTensorType::get(shape, rowType.getElementType());
  std::string name = (prefix + op.getName()).str();
  auto i = [&](StringRef key) { return expd::intParam(cfg, key); };
  if (kind == "linear") {
    int64_t d = i("d"), out = i("out");
    double bound = 1.0 / std::sqrt(double(d));
    Value w = param(loc, name + ".weight", {out, d}, "uniform", bound, true);
    auto bias = cfg.getAs<BoolAttr>("bias");
    Value b = !bias || bias.getValue() ? param(loc, name + ".bias", {out}, "uniform", bound, false)
                                       : constant(loc, 0.0);
    return checked(op, b_.create<step::LinearOp>(loc, in[0], w, b), type);
  }
  if (kind == "conv2d") {
    int64_t c = i("c"), out = i("out"), k = i("kernel");
    double bound = 1.0 / std::sqrt(double(c * k * k));
    Value w = param(loc, name + ".weight", {out, c, k, k}, "uniform", bound, true);
    auto bias = cfg.getAs<BoolAttr>("bias");
    Value b = !bias || bias.getValue() ? param(loc, name + ".bias", {out}, "uniform", bound, false)
                                       : constant(loc, 0.0);
    return checked(op, b_.create<step::Conv2dOp>(loc, in[0], w, b, b_.getI64IntegerAttr(i("stride")),
                                                 b_.getI64IntegerAttr(i("padding"))),
                   type);
  }
  if (kind == "max_pool2d") {
    return checked(op, b_.create<step::MaxPool2dOp>(loc, in[0], b_.getI64IntegerAttr(i("kernel")),
                                                    b_.getI64IntegerAttr(i("stride")),
                                                    b_.getI64IntegerAttr(i("padding"))),
                   type);
  }
  if (kind == "avg_pool2d")
    return checked(op, b_.create<step::AvgPool2dOp>(loc, in[0], b_.getI64IntegerAttr(i("kernel")),
                                                    b_.getI64IntegerAttr(i("stride"))),
                   type);
  if (kind == "batch_norm") {
    // nn.BatchNorm2d: weight 1, bias 0 (no weight decay), running mean 0 and
    // variance 1. A frozen encoder's normalises by its running statistics.
    int64_t c = rowType.getShape().take_back(3)[0];
    Value w = param(loc, name + ".weight", {c}, "constant", 1.0, false);
    Value b = param(loc, name + ".bias", {c}, "constant", 0.0, false);
    Value mean = param(loc, name + ".running_mean", {c}, "constant", 0.0, false, std::nullopt, true);
    Value var = param(loc, name + ".running_var", {c}, "constant", 1.0, false, std::nullopt, true);
    return checked(op, b_.create<step::BatchNormOp>(loc, in[0], w, b, mean, var,
                                                    b_.getBoolAttr(training_ && !frozen_), b_.getF64FloatAttr(0.1),
                                                    b_.getF64FloatAttr(1e-5)),
                   type);
  }
  if (kind == "hand_crafted")
    return checked(op, b_.create<step::HandCraftedOp>(loc, in[0]), type);
  if (kind == "global_avg_pool")
    return checked(op, b_.create<step::GlobalAvgPoolOp>(loc, in[0]), type);
  if (kind == "per_channel")
    return checked(op, b_.create<step::PerChannelOp>(loc, in[0], b_.getI64IntegerAttr(i("copies"))), type);
  // Elementwise layers: one step op each, same type in and out.
  using Unary = Value (*)(OpBuilder &, Location, Value);
  static const std::pair<StringRef, Unary> kUnary[] = {
      {"relu", build<step::ReluOp, Value>},
      {"gelu", build<step::GeluOp, Value>},
      {"tanh", build<step::TanhOp, Value>},
      {"sigmoid", build<step::SigmoidOp, Value>},
      {"normalize", build<step::L2NormalizeOp, Value>},
      {"stop_gradient", build<step::DetachOp, Value>}};
  for (auto [name, fn] : kUnary)
    if (kind == name)
      return fn(b_, loc, in[0]);
  if (kind == "dropout") {
    if (!training_)
      return in[0]; // evaluation graphs run the identity
    return Value(b_.create<step::DropoutOp>(loc, in[0], b_.getF64FloatAttr(expd::floatParam(cfg, "p"))));
  }
  if (kind == "layer_norm") {
    int64_t d = rowType.getShape().back();
    Value w = param(loc, name + ".weight", {d}, "constant", 1.0, false);
    Value b = param(loc, name + ".bias", {d}, "constant", 0.0, false);
    return checked(op, b_.create<step::LayerNormOp>(loc, in[0], w, b,
                                                    b_.getF64FloatAttr(expd::floatParam(cfg, "eps", 1e-6))),
                   type);
  }
  // Reshapes of each row: flatten (a, b) -> a*b, merge_tokens (a, n, d) ->
  // (a*n, d), split_tokens m -> (count, m / count).
  if (kind == "flatten" || kind == "merge_tokens")
    return Value(b_.create<step::ReshapeOp>(loc, type, in[0]));
  if (kind == "split_tokens") {
    int64_t m = cast<RankedTensorType>(in[0].getType()).getShape().back(), count = i("count");
    if (m % count != 0)
      return op.emitOpError() << "splits a vector of width " << m << " into " << count
                              << " tokens; the width must be a multiple of the count";
    return Value(b_.create<step::ReshapeOp>(loc, type, in[0]));
  }
  if (kind == "insert_tokens")
    return checked(op, b_.create<step::InsertTokensOp>(loc, in[0], in[1], b_.getI64IntegerAttr(i("at"))), type);
  // Transformer layers, initialised as timm's ViT: tokens and position
  // embeddings N(0, 0.02) without weight decay.
  int64_t width = rowType.getShape().empty() ? 0 : rowType.getShape().back();
  if (kind == "patch_embed") {
    int64_t c = i("c"), p = i("patch");
    double bound = 1.0 / std::sqrt(double(c * p * p));
    Value w = param(loc, name + ".weight", {width, c, p, p}, "uniform", bound, true);
    Value b = param(loc, name + ".bias", {width}, "uniform", bound, false);
    return checked(op, b_.create<step::PatchEmbedOp>(loc, type, in[0], w, b, b_.getI64IntegerAttr(p)), type);
  }
  if (kind == "cls_token") {
    Value t = param(loc, name + ".token", {width}, "normal", 0.02, false);
    return checked(op, b_.create<step::PrependTokenOp>(loc, type, in[0], t), type);
  }
  if (kind == "channel_embedding") { // a learned vector per channel token
    int64_t c = rowType.getShape().take_back(2)[0];
    Value p = param(loc, name + ".channel", {c, width}, "normal", 0.02, false);
    return checked(op, b_.create<step::AddPositionOp>(loc, type, in[0], p), type);
  }
  if (kind == "position_embedding") {
    int64_t n = rowType.getShape().take_back(2)[0];
    Value p = param(loc, name + ".position", {n, width}, "normal", 0.02, false);
    return checked(op, b_.create<step::AddPositionOp>(loc, type, in[0], p), type);
  }
  if (kind == "attention") {
    double bound = 1.0 / std::sqrt(double(width));
    Value qkv = param(loc, name + ".qkv.weight", {3 * width, width}, "uniform", bound, true);
    Value qkvB = param(loc, name + ".qkv.bias", {3 * width}, "uniform", bound, false);
    Value o = param(loc, name + ".out.weight", {width, width}, "uniform", bound, true);
    Value oB = param(loc, name + ".out.bias", {width}, "uniform", bound, false);
    return checked(op, b_.create<step::AttentionOp>(loc, type, in[0], qkv, qkvB, o, oB,
                                                    b_.getI64IntegerAttr(i("heads"))),
                   type);
  }
  if (kind == "take")
    return checked(op, b_.create<step::TakeTokenOp>(loc, type, in[0], b_.getI64IntegerAttr(i("index"))), type);
  if (kind == "gated_attention_pool") {
    int64_t hidden = i("hidden");
    double bound = 1.0 / std::sqrt(double(width)), wBound = 1.0 / std::sqrt(double(hidden));
    Value v = param(loc, name + ".v.weight", {hidden, width}, "uniform", bound, true);
    Value vb = param(loc, name + ".v.bias", {hidden}, "uniform", bound, false);
    Value u = param(loc, name + ".u.weight", {hidden, width}, "uniform", bound, true);
    Value ub = param(loc, name + ".u.bias", {hidden}, "uniform", bound, false);
    Value w = param(loc, name + ".w", {hidden}, "uniform", wBound, true);
    return checked(op, b_.create<step::GatedAttentionPoolOp>(loc, type, in[0], v, vb, u, ub, w), type);
  }
  if (kind == "mean_pool") // over the instances of a bag: the tokens' mean
    return checked(op, b_.create<step::MeanTokensOp>(loc, type, in[0], b_.getI64IntegerAttr(0)), type);
  if (kind == "mean_tokens")
    return checked(op, b_.create<step::MeanTokensOp>(loc, type, in[0], b_.getI64IntegerAttr(i("from"))), type);
  if (kind == "embedding") {
    int64_t k = i("k"), dim = i("dim");
    Value table = param(loc, name + ".table", {k, dim}, "normal", 1.0, true);
    return checked(op, b_.create<step::EmbeddingLookupOp>(loc, table, in[0]), type);
  }
  if (kind == "token_embedding") { // BERT's word embeddings: N(0, 0.02)
    Value table = param(loc, name + ".table", {i("vocab"), i("dim")}, "normal", 0.02, true);
    return checked(op, b_.create<step::EmbeddingLookupOp>(loc, table, in[0]), type);
  }
  if (kind == "concat")
    return checked(op, b_.create<step::ConcatOp>(loc, in[0], in[1]), type);
  if (kind == "add" || kind == "sub" || kind == "mul") {
    using Binary = Value (*)(OpBuilder &, Location, Value, Value);
    Binary fn = kind == "add"   ? build<step::AddOp, Value, Value>
                : kind == "sub" ? build<step::SubOp, Value, Value>
                                : build<step::MulOp, Value, Value>;
    return checked(op, fn(b_, loc, in[0], in[1]).getDefiningOp(), type);
  }
  if (kind == "scale")
    return checked(op, b_.create<step::MulOp>(loc, in[0], constant(loc, expd::floatParam(cfg, "factor"))),
                   type);
  return op.emitOpError() << "layer '" << kind << "' has no step lowering";
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

// The other objectives: one step.loss over the lowered inputs, plus the
// parameters each kind learns (runtime/objectives/Objectives.h lists the
// operand order the runtime expects).
FailureOr<Value> GraphBuilder::objective(expd::ObjectiveOp op) {
  Location loc = op.getLoc();
  StringRef kind = op.getKind();
  DictionaryAttr cfg = op.getParams();
  auto f = [&](StringRef key, double fallback) { return expd::floatParam(cfg, key, fallback); };
  SmallVector<Value> in;
  if (kind == "simclr") { // two augmented views of the same rows
    for (int64_t view : {1, 2}) {
      FailureOr<Value> v = inView(op.getInputs()[0], view);
      if (failed(v))
        return failure();
      in.push_back(*v);
    }
  } else {
    FailureOr<SmallVector<Value>> all = lowerAll(op.getInputs());
    if (failed(all))
      return failure();
    in = std::move(*all);
  }
  NamedAttrList params;
  auto keep = [&](StringRef key, double fallback) { params.append(key, b_.getF64FloatAttr(f(key, fallback))); };
  std::string name = op.getName().str();
  StringRef runtimeKind = kind;
  if (kind == "cwcl") {
    auto learnable = cfg.getAs<BoolAttr>("learnable_temperature");
    in.push_back(logitScale(loc, name, f("temperature", 0.07), !learnable || learnable.getValue(),
                            f("max_logit_scale", 100)));
  } else if (kind == "siglip" || kind == "s2l") {
    // SigLIP's t' = log(1 / temperature) and bias b, both learned.
    in.push_back(logitScale(loc, name, f("temperature", 0.1), true, 1e6));
    in.push_back(param(loc, name + ".bias", {}, "constant", f("bias", -10), false));
  } else if (kind == "cloob") {
    keep("inverse_temperature", 14.3);
    keep("hopfield_beta", 14.3);
  } else if (kind == "supcon" || kind == "paclr" || kind == "simclr") {
    keep("temperature", kind == "paclr" ? 1.0 : 0.1);
  } else if (kind == "kg_soft_targets") {
    keep("tau", 0.1);
  } else if (kind == "classify") {
    // A head over the labels' classes, initialised as nn.Linear.
    int64_t classes = cast<expd::LabelsType>(op.getInputs()[1].getType()).getClasses();
    int64_t d = cast<RankedTensorType>(in[0].getType()).getShape().back();
    double bound = 1.0 / std::sqrt(double(d));
    in.push_back(param(loc, name + ".head.weight", {classes, d}, "uniform", bound, true));
    keep("label_smoothing", 0);
    auto head = cfg.getAs<StringAttr>("head");
    if (head && head.getValue() == "arcface") {
      runtimeKind = "arcface";
      keep("scale", 64);
      keep("margin", 0.5);
    } else {
      in.push_back(param(loc, name + ".head.bias", {classes}, "uniform", bound, false));
    }
  }
  return Value(b_.create<step::LossOp>(loc, b_.getStringAttr(runtimeKind), in, params.getDictionary(b_.getContext())));
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
