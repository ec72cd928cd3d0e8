//===- LayerLowerings.cpp - the std.layers registry -----------------------===//
//
// One entry per layer: PyTorch's default initialisations (U(+-1/sqrt(fan_in))
// for linear and conv weights and biases, N(0, 1) for embedding tables, ones
// and zeros without weight decay for normalisation affines), transformer
// layers initialised as timm's ViT (tokens and position embeddings N(0, 0.02)
// without weight decay).
//
//===----------------------------------------------------------------------===//

#include "transforms/LayerLowerings.h"

#include "dialects/step/StepDialect.h"

#include "llvm/ADT/StringMap.h"

#include <cmath>

using namespace mlir;
namespace step = expc::step;

namespace expc {

bool LayerContext::boolArg(StringRef key, bool fallback) const {
  auto v = op.getConfig().getAs<BoolAttr>(key);
  return v ? v.getValue() : fallback;
}

FailureOr<Value> LayerContext::checked(Operation *built) {
  Value v = built->getResult(0);
  if (v.getType() != type)
    return op.emitOpError()
           << "lowers to " << built->getName() << " of type " << v.getType() << ", but semantic analysis gave it "
           << type << " (a compiler bug: the two shape rules disagree)";
  return v;
}

namespace {
using Ctx = LayerContext;

// A bias of `shape`, or the rank-0 constant 0 that stands for none.
Value biasOr(Ctx &c, ArrayRef<int64_t> shape, double bound) {
  return c.boolArg("bias", true) ? c.param(".bias", shape, "uniform", bound, false) : c.constant(0.0);
}

FailureOr<Value> linear(Ctx &c) {
  int64_t d = c.intArg("d"), out = c.intArg("out");
  double bound = 1.0 / std::sqrt(double(d));
  Value w = c.param(".weight", {out, d}, "uniform", bound, true);
  Value b = biasOr(c, {out}, bound);
  return c.checked(c.b.create<step::LinearOp>(c.loc(), c.in[0], w, b));
}

FailureOr<Value> conv2d(Ctx &c) {
  int64_t ch = c.intArg("c"), out = c.intArg("out"), k = c.intArg("kernel");
  double bound = 1.0 / std::sqrt(double(ch * k * k));
  Value w = c.param(".weight", {out, ch, k, k}, "uniform", bound, true);
  Value b = biasOr(c, {out}, bound);
  return c.checked(c.b.create<step::Conv2dOp>(c.loc(), c.in[0], w, b, c.i64(c.intArg("stride")),
                                              c.i64(c.intArg("padding"))));
}

FailureOr<Value> maxPool2d(Ctx &c) {
  return c.checked(c.b.create<step::MaxPool2dOp>(c.loc(), c.in[0], c.i64(c.intArg("kernel")),
                                                 c.i64(c.intArg("stride")), c.i64(c.intArg("padding"))));
}

FailureOr<Value> avgPool2d(Ctx &c) {
  return c.checked(
      c.b.create<step::AvgPool2dOp>(c.loc(), c.in[0], c.i64(c.intArg("kernel")), c.i64(c.intArg("stride"))));
}

// nn.BatchNorm2d: weight 1, bias 0 (no weight decay), running mean 0 and
// variance 1. A frozen encoder's normalises by its running statistics.
FailureOr<Value> batchNorm(Ctx &c) {
  int64_t ch = c.rowType().getShape().take_back(3)[0];
  Value w = c.param(".weight", {ch}, "constant", 1.0, false);
  Value b = c.param(".bias", {ch}, "constant", 0.0, false);
  Value mean = c.param(".running_mean", {ch}, "constant", 0.0, false, /*buffer=*/true);
  Value var = c.param(".running_var", {ch}, "constant", 1.0, false, /*buffer=*/true);
  return c.checked(c.b.create<step::BatchNormOp>(c.loc(), c.in[0], w, b, mean, var,
                                                 c.b.getBoolAttr(c.training && !c.frozen),
                                                 c.b.getF64FloatAttr(0.1), c.b.getF64FloatAttr(1e-5)));
}

FailureOr<Value> handCrafted(Ctx &c) { return c.checked(c.b.create<step::HandCraftedOp>(c.loc(), c.in[0])); }
FailureOr<Value> globalAvgPool(Ctx &c) { return c.checked(c.b.create<step::GlobalAvgPoolOp>(c.loc(), c.in[0])); }
FailureOr<Value> perChannel(Ctx &c) {
  return c.checked(c.b.create<step::PerChannelOp>(c.loc(), c.in[0], c.i64(c.intArg("copies"))));
}

// Elementwise layers: one step op each, the same type in and out.
template <typename OpTy> FailureOr<Value> unary(Ctx &c) {
  return Value(c.b.create<OpTy>(c.loc(), c.in[0]));
}

// CLIP's QuickGELU: x * sigmoid(1.702 x), as step ops (one fusion group).
FailureOr<Value> quickGelu(Ctx &c) {
  Value scaled = c.b.create<step::MulOp>(c.loc(), c.in[0], c.constant(1.702));
  Value gate = c.b.create<step::SigmoidOp>(c.loc(), scaled);
  return c.checked(c.b.create<step::MulOp>(c.loc(), c.in[0], gate));
}

FailureOr<Value> dropout(Ctx &c) {
  if (!c.training)
    return c.in[0]; // evaluation graphs run the identity
  return Value(c.b.create<step::DropoutOp>(c.loc(), c.in[0], c.b.getF64FloatAttr(c.floatArg("p"))));
}

FailureOr<Value> layerNorm(Ctx &c) {
  int64_t d = c.rowType().getShape().back();
  Value w = c.param(".weight", {d}, "constant", 1.0, false);
  Value b = c.param(".bias", {d}, "constant", 0.0, false);
  return c.checked(
      c.b.create<step::LayerNormOp>(c.loc(), c.in[0], w, b, c.b.getF64FloatAttr(c.floatArg("eps", 1e-6))));
}

// Reshapes of each row: flatten (a, b) -> a*b, merge_tokens (a, n, d) ->
// (a*n, d), split_tokens m -> (count, m / count).
FailureOr<Value> reshape(Ctx &c) { return Value(c.b.create<step::ReshapeOp>(c.loc(), c.type, c.in[0])); }
FailureOr<Value> splitTokens(Ctx &c) {
  int64_t m = cast<RankedTensorType>(c.in[0].getType()).getShape().back(), count = c.intArg("count");
  if (m % count != 0)
    return c.op.emitOpError() << "splits a vector of width " << m << " into " << count
                              << " tokens; the width must be a multiple of the count";
  return reshape(c);
}

FailureOr<Value> insertTokens(Ctx &c) {
  return c.checked(c.b.create<step::InsertTokensOp>(c.loc(), c.in[0], c.in[1], c.i64(c.intArg("at"))));
}

FailureOr<Value> patchEmbed(Ctx &c) {
  int64_t ch = c.intArg("c"), p = c.intArg("patch"), width = c.width();
  double bound = 1.0 / std::sqrt(double(ch * p * p));
  Value w = c.param(".weight", {width, ch, p, p}, "uniform", bound, true);
  Value b = c.param(".bias", {width}, "uniform", bound, false);
  return c.checked(c.b.create<step::PatchEmbedOp>(c.loc(), c.type, c.in[0], w, b, c.i64(p)));
}

FailureOr<Value> clsToken(Ctx &c) {
  Value t = c.param(".token", {c.width()}, "normal", 0.02, false);
  return c.checked(c.b.create<step::PrependTokenOp>(c.loc(), c.type, c.in[0], t));
}

// A learned vector per token position (`position_embedding`) or per channel
// token (`channel_embedding`), added.
FailureOr<Value> addedEmbedding(Ctx &c, StringRef suffix) {
  int64_t n = c.rowType().getShape().take_back(2)[0];
  Value p = c.param(suffix, {n, c.width()}, "normal", 0.02, false);
  return c.checked(c.b.create<step::AddPositionOp>(c.loc(), c.type, c.in[0], p));
}
FailureOr<Value> channelEmbedding(Ctx &c) { return addedEmbedding(c, ".channel"); }
FailureOr<Value> positionEmbedding(Ctx &c) { return addedEmbedding(c, ".position"); }

FailureOr<Value> attention(Ctx &c) {
  int64_t width = c.width();
  double bound = 1.0 / std::sqrt(double(width));
  Value qkv = c.param(".qkv.weight", {3 * width, width}, "uniform", bound, true);
  Value qkvB = c.param(".qkv.bias", {3 * width}, "uniform", bound, false);
  Value o = c.param(".out.weight", {width, width}, "uniform", bound, true);
  Value oB = c.param(".out.bias", {width}, "uniform", bound, false);
  return c.checked(
      c.b.create<step::AttentionOp>(c.loc(), c.type, c.in[0], qkv, qkvB, o, oB, c.i64(c.intArg("heads"))));
}

FailureOr<Value> take(Ctx &c) {
  return c.checked(c.b.create<step::TakeTokenOp>(c.loc(), c.type, c.in[0], c.i64(c.intArg("index"))));
}

FailureOr<Value> gatedAttentionPool(Ctx &c) {
  int64_t hidden = c.intArg("hidden"), width = c.width();
  double bound = 1.0 / std::sqrt(double(width)), wBound = 1.0 / std::sqrt(double(hidden));
  Value v = c.param(".v.weight", {hidden, width}, "uniform", bound, true);
  Value vb = c.param(".v.bias", {hidden}, "uniform", bound, false);
  Value u = c.param(".u.weight", {hidden, width}, "uniform", bound, true);
  Value ub = c.param(".u.bias", {hidden}, "uniform", bound, false);
  Value w = c.param(".w", {hidden}, "uniform", wBound, true);
  return c.checked(c.b.create<step::GatedAttentionPoolOp>(c.loc(), c.type, c.in[0], v, vb, u, ub, w));
}

// Over the instances of a bag (`mean_pool`), or the tokens from `from` on.
FailureOr<Value> meanPool(Ctx &c) {
  return c.checked(c.b.create<step::MeanTokensOp>(c.loc(), c.type, c.in[0], c.i64(0)));
}
FailureOr<Value> meanTokens(Ctx &c) {
  return c.checked(c.b.create<step::MeanTokensOp>(c.loc(), c.type, c.in[0], c.i64(c.intArg("from"))));
}

FailureOr<Value> embedding(Ctx &c) {
  Value table = c.param(".table", {c.intArg("k"), c.intArg("dim")}, "normal", 1.0, true);
  return c.checked(c.b.create<step::EmbeddingLookupOp>(c.loc(), table, c.in[0]));
}
// BERT's word embeddings: N(0, 0.02).
FailureOr<Value> tokenEmbedding(Ctx &c) {
  Value table = c.param(".table", {c.intArg("vocab"), c.intArg("dim")}, "normal", 0.02, true);
  return c.checked(c.b.create<step::EmbeddingLookupOp>(c.loc(), table, c.in[0]));
}

FailureOr<Value> concat(Ctx &c) { return c.checked(c.b.create<step::ConcatOp>(c.loc(), c.in[0], c.in[1])); }
template <typename OpTy> FailureOr<Value> binary(Ctx &c) {
  return c.checked(c.b.create<OpTy>(c.loc(), c.in[0], c.in[1]));
}
FailureOr<Value> scale(Ctx &c) {
  return c.checked(c.b.create<step::MulOp>(c.loc(), c.in[0], c.constant(c.floatArg("factor"))));
}

const std::pair<StringRef, LayerLowering> kLayers[] = {
    {"linear", linear},
    {"conv2d", conv2d},
    {"max_pool2d", maxPool2d},
    {"avg_pool2d", avgPool2d},
    {"batch_norm", batchNorm},
    {"hand_crafted", handCrafted},
    {"global_avg_pool", globalAvgPool},
    {"per_channel", perChannel},
    {"relu", unary<step::ReluOp>},
    {"gelu", unary<step::GeluOp>},
    {"quick_gelu", quickGelu},
    {"tanh", unary<step::TanhOp>},
    {"sigmoid", unary<step::SigmoidOp>},
    {"normalize", unary<step::L2NormalizeOp>},
    {"stop_gradient", unary<step::DetachOp>},
    {"dropout", dropout},
    {"layer_norm", layerNorm},
    {"flatten", reshape},
    {"merge_tokens", reshape},
    {"split_tokens", splitTokens},
    {"insert_tokens", insertTokens},
    {"patch_embed", patchEmbed},
    {"cls_token", clsToken},
    {"channel_embedding", channelEmbedding},
    {"position_embedding", positionEmbedding},
    {"attention", attention},
    {"take", take},
    {"gated_attention_pool", gatedAttentionPool},
    {"mean_pool", meanPool},
    {"mean_tokens", meanTokens},
    {"embedding", embedding},
    {"token_embedding", tokenEmbedding},
    {"concat", concat},
    {"add", binary<step::AddOp>},
    {"sub", binary<step::SubOp>},
    {"mul", binary<step::MulOp>},
    {"scale", scale},
};

} // namespace

LayerLowering findLayerLowering(StringRef name) {
  for (const auto &[layer, lower] : kLayers)
    if (layer == name)
      return lower;
  return nullptr;
}

} // namespace expc
