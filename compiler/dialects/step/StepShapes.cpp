//===- StepShapes.cpp - shape functions of the step ops -------------------===//
//
// Each op's result type as a function of its operands and attributes
// (InferTypeOpInterface): one place for shape rules, used by the verifier,
// by builders that omit result types, and by step-infer-shapes. Operand
// checks live here too, so an op whose shape cannot be computed says why.
// Dimensions may be dynamic (the batch); they agree with anything.
//
//===----------------------------------------------------------------------===//

#include "dialects/step/StepDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/TypeUtilities.h"

using namespace mlir;
using namespace expc::step;

bool expc::step::typesAgree(TypeRange inferred, TypeRange declared) {
  if (inferred.size() != declared.size())
    return false;
  for (auto [i, d] : llvm::zip(inferred, declared)) {
    auto a = dyn_cast<RankedTensorType>(i), b = dyn_cast<RankedTensorType>(d);
    if (!a || !b)
      return i == d;
    if (a.getElementType() != b.getElementType() || failed(verifyCompatibleShape(a, b)))
      return false;
  }
  return true;
}

namespace {

// Errors worded as emitOpError words them, at the op's location; silent when
// inference runs without one.
struct Diag {
  std::optional<Location> loc;
  StringRef op;
  template <typename... Args> LogicalResult operator()(Args &&...args) const {
    return emitOptionalError(loc, "'", op, "' op ", std::forward<Args>(args)...);
  }
};

bool dimsAgree(int64_t a, int64_t b) {
  return a == b || ShapedType::isDynamic(a) || ShapedType::isDynamic(b);
}

RankedTensorType ranked(Value v) { return dyn_cast<RankedTensorType>(v.getType()); }

FailureOr<RankedTensorType> ofRank(const Diag &d, Value v, int64_t rank, StringRef what) {
  auto t = ranked(v);
  if (!t || t.getRank() != rank)
    return d(what, " must be a rank-", rank, " tensor, got ", v.getType());
  return t;
}

// Two operands at their ranks, or the first mismatch reported.
FailureOr<std::pair<RankedTensorType, RankedTensorType>>
ofRanks(const Diag &d, Value x, int64_t rx, StringRef wx, Value y, int64_t ry, StringRef wy) {
  FailureOr<RankedTensorType> a = ofRank(d, x, rx, wx);
  if (failed(a))
    return failure();
  FailureOr<RankedTensorType> b = ofRank(d, y, ry, wy);
  if (failed(b))
    return failure();
  return std::pair{*a, *b};
}

// Image ops read (N, ..., C, H, W): at least rank 4; dimensions between the
// batch and C (bags, channels encoded separately) pass through.
FailureOr<RankedTensorType> imageInput(const Diag &d, Value v) {
  auto t = ranked(v);
  if (!t || t.getRank() < 4)
    return d("input must be (N, ..., C, H, W), got ", v.getType());
  return t;
}

// The input's dimensions but the last `keep`, then `tail`.
SmallVector<int64_t> withLeading(RankedTensorType x, int64_t keep, ArrayRef<int64_t> tail) {
  SmallVector<int64_t> shape(x.getShape().take_front(x.getRank() - keep));
  shape.append(tail.begin(), tail.end());
  return shape;
}

// An image input and a rank-4 (out, C, kh, kw) kernel (conv2d, patch_embed).
FailureOr<std::pair<RankedTensorType, RankedTensorType>> imageAndKernel(const Diag &d, Value x,
                                                                        Value w) {
  FailureOr<RankedTensorType> in = imageInput(d, x);
  if (failed(in))
    return failure();
  FailureOr<RankedTensorType> k = ofRank(d, w, 4, "weight");
  if (failed(k))
    return failure();
  return std::pair{*in, *k};
}

// A rank-1 bias of `n` entries, or rank 0 for none.
LogicalResult checkBias(const Diag &d, Value bias, int64_t n, StringRef of) {
  auto b = ranked(bias);
  if (!b || b.getRank() > 1)
    return d("bias must be a rank-1 tensor (or rank-0 for none), got ", bias.getType());
  if (b.getRank() == 1 && !dimsAgree(b.getDimSize(0), n))
    return d("bias has ", b.getDimSize(0), " entries for ", n, of);
  return success();
}

// The output size of a window of `k` sliding with stride `s` over `in`
// padded by `p` on each side.
int64_t windows(int64_t in, int64_t k, int64_t s, int64_t p) {
  return ShapedType::isDynamic(in) ? in : (in + 2 * p - k) / s + 1;
}

LogicalResult infer(MLIRContext *ctx, ArrayRef<int64_t> shape, SmallVectorImpl<Type> &out,
                    Type element = {}) {
  out.push_back(RankedTensorType::get(shape, element ? element : Float32Type::get(ctx)));
  return success();
}

// Elementwise binary ops: same shape as `lhs`, or a scalar right-hand side.
LogicalResult inferElementwise(MLIRContext *ctx, const Diag &d, Value lhs, Value rhs,
                               SmallVectorImpl<Type> &out) {
  auto l = ranked(lhs), r = ranked(rhs);
  if (!l || !r)
    return d("operands must be ranked tensors");
  if (r.getRank() != 0 && failed(verifyCompatibleShape(l, r)))
    return d("operand shapes ", l, " and ", r, " do not match");
  return infer(ctx, l.getShape(), out);
}

// Token ops: sequences (N, ..., n, d).
FailureOr<RankedTensorType> sequence(const Diag &d, Value v) {
  auto t = ranked(v);
  if (!t || t.getRank() < 3)
    return d("input must be a batch of sequences (N, ..., n, d), got ", v.getType());
  return t;
}

// A sequence pooled to one vector per row from token `first` on (or token
// `first` alone): (N, ..., n, d) -> (N, ..., d).
LogicalResult inferPooled(MLIRContext *ctx, const Diag &d, Value input, int64_t first,
                          SmallVectorImpl<Type> &out) {
  FailureOr<RankedTensorType> x = sequence(d, input);
  if (failed(x))
    return failure();
  int64_t n = x->getShape().take_back(2)[0];
  if (first < 0 || (!ShapedType::isDynamic(n) && first >= n))
    return d("token ", first, " is out of range for ", n, " tokens");
  return infer(ctx, withLeading(*x, 2, {x->getShape().back()}), out);
}

} // namespace

#define STEP_INFER(Op)                                                                           \
  LogicalResult Op::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,             \
                                     Op::Adaptor a, SmallVectorImpl<Type> &out)

STEP_INFER(ConstantOp) { return infer(ctx, {}, out); }

STEP_INFER(Conv2dOp) {
  Diag d{loc, getOperationName()};
  auto xw = imageAndKernel(d, a.getInput(), a.getWeight());
  if (failed(xw))
    return failure();
  auto [x, w] = *xw;
  ArrayRef<int64_t> chw = x.getShape().take_back(3);
  if (failed(checkBias(d, a.getBias(), w.getDimSize(0), " output channels")))
    return failure();
  if (!dimsAgree(chw[0], w.getDimSize(1)))
    return d("input has ", chw[0], " channels but the weight takes ", w.getDimSize(1));
  int64_t s = a.getStride(), p = a.getPadding();
  if (s < 1 || p < 0)
    return d("needs stride >= 1 and padding >= 0");
  return infer(ctx,
               withLeading(x, 3, {w.getDimSize(0), windows(chw[1], w.getDimSize(2), s, p),
                                   windows(chw[2], w.getDimSize(3), s, p)}),
               out);
}

STEP_INFER(MaxPool2dOp) {
  Diag d{loc, getOperationName()};
  FailureOr<RankedTensorType> x = imageInput(d, a.getInput());
  if (failed(x))
    return failure();
  int64_t k = a.getKernel(), s = a.getStride(), p = a.getPadding();
  if (k < 1 || s < 1 || p < 0 || 2 * p > k)
    return d("needs kernel and stride >= 1 and padding at most half the kernel");
  ArrayRef<int64_t> chw = x->getShape().take_back(3);
  if (!ShapedType::isDynamic(chw[1]) && chw[1] + 2 * p < k)
    return d("input of height ", chw[1], " is smaller than the kernel");
  return infer(ctx, withLeading(*x, 3, {chw[0], windows(chw[1], k, s, p), windows(chw[2], k, s, p)}),
               out);
}

STEP_INFER(GlobalAvgPoolOp) {
  FailureOr<RankedTensorType> x = imageInput({loc, getOperationName()}, a.getInput());
  if (failed(x))
    return failure();
  return infer(ctx, withLeading(*x, 3, {x->getShape().take_back(3)[0]}), out);
}

// 9 features per channel and 4 more (runtime/exec/HandCrafted.h).
STEP_INFER(HandCraftedOp) {
  FailureOr<RankedTensorType> x = imageInput({loc, getOperationName()}, a.getInput());
  if (failed(x))
    return failure();
  int64_t c = x->getShape().take_back(3)[0];
  return infer(ctx, withLeading(*x, 3, {ShapedType::isDynamic(c) ? c : 9 * c + 4}), out);
}

STEP_INFER(PerChannelOp) {
  Diag d{loc, getOperationName()};
  FailureOr<RankedTensorType> x = imageInput(d, a.getInput());
  if (failed(x))
    return failure();
  if (a.getCopies() < 1)
    return d("needs copies >= 1");
  ArrayRef<int64_t> chw = x->getShape().take_back(3);
  return infer(ctx, withLeading(*x, 3, {chw[0], int64_t(a.getCopies()), chw[1], chw[2]}), out);
}

STEP_INFER(LinearOp) {
  Diag d{loc, getOperationName()};
  auto x = ranked(a.getInput());
  if (!x || x.getRank() < 2)
    return d("input must have a batch and a feature dimension, got ", a.getInput().getType());
  FailureOr<RankedTensorType> w = ofRank(d, a.getWeight(), 2, "weight");
  if (failed(w))
    return failure();
  if (!dimsAgree(x.getShape().back(), w->getDimSize(1)))
    return d("input width ", x.getShape().back(), " does not match weight width ", w->getDimSize(1));
  if (failed(checkBias(d, a.getBias(), w->getDimSize(0), " outputs")))
    return failure();
  return infer(ctx, withLeading(x, 1, {w->getDimSize(0)}), out);
}

STEP_INFER(PatchEmbedOp) {
  Diag d{loc, getOperationName()};
  auto xw = imageAndKernel(d, a.getInput(), a.getWeight());
  if (failed(xw))
    return failure();
  auto [x, w] = *xw;
  int64_t p = a.getPatch(), c = x.getShape().take_back(3)[0];
  if (p < 1 || !dimsAgree(w.getDimSize(1), c) || !dimsAgree(w.getDimSize(2), p) ||
      !dimsAgree(w.getDimSize(3), p))
    return d("weight ", w, " does not embed ", p, "x", p, " patches of ", c, " channels");
  if (failed(checkBias(d, a.getBias(), w.getDimSize(0), " embedding dimensions")))
    return failure();
  int64_t h = x.getShape().take_back(2)[0], wd = x.getShape().back();
  int64_t n = ShapedType::isDynamic(h) || ShapedType::isDynamic(wd) ? ShapedType::kDynamic
                                                                    : (h / p) * (wd / p);
  return infer(ctx, withLeading(x, 3, {n, w.getDimSize(0)}), out);
}

STEP_INFER(PrependTokenOp) {
  Diag d{loc, getOperationName()};
  FailureOr<RankedTensorType> x = sequence(d, a.getInput());
  if (failed(x))
    return failure();
  FailureOr<RankedTensorType> t = ofRank(d, a.getToken(), 1, "token");
  if (failed(t))
    return failure();
  if (!dimsAgree(t->getDimSize(0), x->getShape().back()))
    return d("token has ", t->getDimSize(0), " entries for width ", x->getShape().back());
  int64_t n = x->getShape().take_back(2)[0];
  return infer(ctx, withLeading(*x, 2, {ShapedType::isDynamic(n) ? n : n + 1, x->getShape().back()}),
               out);
}

STEP_INFER(AvgPool2dOp) {
  Diag d{loc, getOperationName()};
  FailureOr<RankedTensorType> x = imageInput(d, a.getInput());
  if (failed(x))
    return failure();
  int64_t k = a.getKernel(), s = a.getStride();
  if (k < 1 || s < 1)
    return d("needs kernel and stride >= 1");
  ArrayRef<int64_t> chw = x->getShape().take_back(3);
  if (!ShapedType::isDynamic(chw[1]) && chw[1] < k)
    return d("input of height ", chw[1], " is smaller than the kernel");
  return infer(ctx, withLeading(*x, 3, {chw[0], windows(chw[1], k, s, 0), windows(chw[2], k, s, 0)}), out);
}

STEP_INFER(BatchNormOp) {
  Diag d{loc, getOperationName()};
  FailureOr<RankedTensorType> x = imageInput(d, a.getInput());
  if (failed(x))
    return failure();
  int64_t c = x->getShape().take_back(3)[0];
  for (auto [v, what] : {std::pair{a.getWeight(), "weight"}, std::pair{a.getBias(), "bias"},
                         std::pair{a.getRunningMean(), "running_mean"}, std::pair{a.getRunningVar(), "running_var"}}) {
    FailureOr<RankedTensorType> t = ofRank(d, v, 1, what);
    if (failed(t))
      return failure();
    if (!dimsAgree(t->getDimSize(0), c))
      return d(what, " has ", t->getDimSize(0), " entries for ", c, " channels");
  }
  if (!(a.getEps().convertToDouble() > 0))
    return d("eps must be positive");
  return infer(ctx, x->getShape(), out);
}

STEP_INFER(InsertTokensOp) {
  Diag d{loc, getOperationName()};
  FailureOr<RankedTensorType> x = sequence(d, a.getInput());
  if (failed(x))
    return failure();
  FailureOr<RankedTensorType> t = sequence(d, a.getTokens());
  if (failed(t))
    return failure();
  if (!dimsAgree(t->getShape().back(), x->getShape().back()))
    return d("tokens of width ", t->getShape().back(), " into sequences of width ", x->getShape().back());
  int64_t n = x->getShape().take_back(2)[0], k = t->getShape().take_back(2)[0];
  if (a.getAt() < 0 || (!ShapedType::isDynamic(n) && a.getAt() > n))
    return d("inserts at ", a.getAt(), ", outside sequences of ", n, " tokens");
  int64_t total = ShapedType::isDynamic(n) || ShapedType::isDynamic(k) ? ShapedType::kDynamic : n + k;
  return infer(ctx, withLeading(*x, 2, {total, x->getShape().back()}), out);
}

STEP_INFER(AddPositionOp) {
  Diag d{loc, getOperationName()};
  FailureOr<RankedTensorType> x = sequence(d, a.getInput());
  if (failed(x))
    return failure();
  FailureOr<RankedTensorType> p = ofRank(d, a.getPosition(), 2, "position");
  if (failed(p))
    return failure();
  if (failed(verifyCompatibleShape(p->getShape(), x->getShape().take_back(2))))
    return d("position ", *p, " does not match sequences of ", x->getShape().take_back(2)[0],
             " tokens of width ", x->getShape().back());
  return infer(ctx, x->getShape(), out);
}

STEP_INFER(AttentionOp) {
  Diag d{loc, getOperationName()};
  FailureOr<RankedTensorType> x = sequence(d, a.getInput());
  if (failed(x))
    return failure();
  int64_t width = x->getShape().back(), heads = a.getHeads();
  if (heads < 1 || (!ShapedType::isDynamic(width) && width % heads != 0))
    return d("width ", width, " is not a multiple of ", heads, " heads");
  auto w = ofRanks(d, a.getQkvWeight(), 2, "qkv_weight", a.getOutWeight(), 2, "out_weight");
  if (failed(w))
    return failure();
  auto [qkv, o] = *w;
  if (!dimsAgree(qkv.getDimSize(0), 3 * width) || !dimsAgree(qkv.getDimSize(1), width) ||
      !dimsAgree(o.getDimSize(0), width) || !dimsAgree(o.getDimSize(1), width))
    return d("weights ", qkv, " and ", o, " do not fit width ", width);
  if (failed(checkBias(d, a.getQkvBias(), 3 * width, " query/key/value outputs")) ||
      failed(checkBias(d, a.getOutBias(), width, " outputs")))
    return failure();
  return infer(ctx, x->getShape(), out);
}

STEP_INFER(TakeTokenOp) {
  return inferPooled(ctx, {loc, getOperationName()}, a.getInput(), a.getIndex(), out);
}

STEP_INFER(MeanTokensOp) {
  return inferPooled(ctx, {loc, getOperationName()}, a.getInput(), a.getFrom(), out);
}

STEP_INFER(GatedAttentionPoolOp) {
  Diag d{loc, getOperationName()};
  auto x = ranked(a.getInput());
  if (!x || x.getRank() < 4)
    return d("input must be bags of channel tokens (N, ..., m, c, d), got ", a.getInput().getType());
  int64_t width = x.getShape().back();
  auto vu = ofRanks(d, a.getVWeight(), 2, "v_weight", a.getUWeight(), 2, "u_weight");
  if (failed(vu))
    return failure();
  auto [v, u] = *vu;
  FailureOr<RankedTensorType> w = ofRank(d, a.getW(), 1, "w");
  if (failed(w))
    return failure();
  int64_t hidden = v.getDimSize(0);
  if (!dimsAgree(v.getDimSize(1), width) || !dimsAgree(u.getDimSize(1), width) ||
      !dimsAgree(u.getDimSize(0), hidden) || !dimsAgree(w->getDimSize(0), hidden))
    return d("weights ", v, ", ", u, " and ", *w, " do not fit width ", width);
  if (failed(checkBias(d, a.getVBias(), hidden, " hidden units")) ||
      failed(checkBias(d, a.getUBias(), hidden, " hidden units")))
    return failure();
  return infer(ctx, withLeading(x, 3, x.getShape().take_back(2)), out);
}

STEP_INFER(LayerNormOp) {
  Diag d{loc, getOperationName()};
  auto x = ranked(a.getInput());
  if (!x || x.getRank() < 2)
    return d("input must have a batch and a feature dimension");
  int64_t width = x.getShape().back();
  for (auto [v, what] : {std::pair{a.getWeight(), "weight"}, std::pair{a.getBias(), "bias"}}) {
    FailureOr<RankedTensorType> t = ofRank(d, v, 1, what);
    if (failed(t))
      return failure();
    if (!dimsAgree(t->getDimSize(0), width))
      return d(what, " has ", t->getDimSize(0), " entries for width ", width);
  }
  if (!(a.getEps().convertToDouble() > 0))
    return d("eps must be positive");
  return infer(ctx, x.getShape(), out);
}

STEP_INFER(ConcatOp) {
  Diag d{loc, getOperationName()};
  auto l = ranked(a.getLhs()), r = ranked(a.getRhs());
  if (!l || !r || l.getRank() != r.getRank() || l.getRank() < 2)
    return d("operands must have the same rank, at least 2");
  for (int64_t i = 0; i + 1 < l.getRank(); ++i)
    if (!dimsAgree(l.getDimSize(i), r.getDimSize(i)))
      return d("operands differ in dimension ", i);
  int64_t wl = l.getShape().back(), wr = r.getShape().back();
  bool dynamic = ShapedType::isDynamic(wl) || ShapedType::isDynamic(wr);
  return infer(ctx, withLeading(l, 1, {dynamic ? ShapedType::kDynamic : wl + wr}), out);
}

STEP_INFER(SubOp) { return inferElementwise(ctx, {loc, getOperationName()}, a.getLhs(), a.getRhs(), out); }
STEP_INFER(MulOp) { return inferElementwise(ctx, {loc, getOperationName()}, a.getLhs(), a.getRhs(), out); }
STEP_INFER(AddOp) { return inferElementwise(ctx, {loc, getOperationName()}, a.getLhs(), a.getRhs(), out); }

STEP_INFER(EmbeddingLookupOp) {
  Diag d{loc, getOperationName()};
  FailureOr<RankedTensorType> t = ofRank(d, a.getTable(), 2, "table");
  if (failed(t))
    return failure();
  auto i = ranked(a.getIndices());
  if (!i || i.getRank() < 1)
    return d("indices must be (N, ...), got ", a.getIndices().getType());
  // One row per index: (N) labels, or (N, n) token ids.
  SmallVector<int64_t> shape(i.getShape());
  shape.push_back(t->getDimSize(1));
  return infer(ctx, shape, out);
}

STEP_INFER(MatmulOp) {
  Diag d{loc, getOperationName()};
  auto operands = ofRanks(d, a.getLhs(), 2, "lhs", a.getRhs(), 2, "rhs");
  if (failed(operands))
    return failure();
  auto [l, r] = *operands;
  bool t = a.getTransposeB();
  int64_t inner = r.getDimSize(t ? 1 : 0), cols = r.getDimSize(t ? 0 : 1);
  if (!dimsAgree(l.getDimSize(1), inner))
    return d("inner dimensions ", l.getDimSize(1), " and ", inner, " do not match");
  return infer(ctx, {l.getDimSize(0), cols}, out);
}

STEP_INFER(TransposeOp) {
  FailureOr<RankedTensorType> x = ofRank({loc, getOperationName()}, a.getInput(), 2, "input");
  if (failed(x))
    return failure();
  return infer(ctx, {x->getDimSize(1), x->getDimSize(0)}, out);
}

STEP_INFER(ArangeRowsOp) {
  auto x = ranked(a.getInput());
  if (!x || x.getRank() < 1)
    return Diag{loc, getOperationName()}("input must have rows, got ", a.getInput().getType());
  return infer(ctx, {x.getDimSize(0)}, out, IntegerType::get(ctx, 64));
}

STEP_INFER(CrossEntropyOp) {
  Diag d{loc, getOperationName()};
  auto operands = ofRanks(d, a.getLogits(), 2, "logits", a.getTargets(), 1, "targets");
  if (failed(operands))
    return failure();
  auto [l, t] = *operands;
  if (!dimsAgree(l.getDimSize(0), t.getDimSize(0)))
    return d("has ", l.getDimSize(0), " rows of logits but ", t.getDimSize(0), " targets");
  return infer(ctx, {}, out);
}

STEP_INFER(ContrastiveLossOp) {
  Diag d{loc, getOperationName()};
  StringRef kind = a.getKind();
  if (kind != "clip" && kind != "infoloob")
    return d("unknown kind '", kind, "'; expected 'clip' or 'infoloob'");
  auto operands = ofRanks(d, a.getLhs(), 2, "lhs", a.getRhs(), 2, "rhs");
  if (failed(operands))
    return failure();
  auto [l, r] = *operands;
  if (failed(verifyCompatibleShape(l, r)))
    return d("pairs rows of ", l, " with rows of ", r, "; both sides need the same batch and width");
  return infer(ctx, {}, out);
}

// The operands' shapes per kind are checked where the objective is built
// (exp.objective's verifier, the lowering) and by the runtime, which knows
// each kind's operands.
STEP_INFER(LossOp) {
  Diag d{loc, getOperationName()};
  if (a.getInputs().empty())
    return d("needs operands");
  return infer(ctx, {}, out);
}

#undef STEP_INFER
