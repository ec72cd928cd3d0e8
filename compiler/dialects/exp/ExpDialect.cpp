#include "dialects/exp/ExpDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <cstdio>

using namespace mlir;
using namespace expc::expd;

#include "dialects/exp/ExpDialect.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "dialects/exp/ExpTypes.cpp.inc"

#define GET_OP_CLASSES
#include "dialects/exp/ExpOps.cpp.inc"

void ExpDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/exp/ExpOps.cpp.inc"
      >();
  addTypes<
#define GET_TYPEDEF_LIST
#include "dialects/exp/ExpTypes.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

LogicalResult ImagesType::verify(function_ref<InFlightDiagnostic()> emitError,
                                 int64_t channels, int64_t height, int64_t width) {
  if (channels < 1 || height < 1 || width < 1)
    return emitError() << "images need positive channels and size, got " << channels
                       << "x" << height << "x" << width;
  return success();
}

LogicalResult LabelsType::verify(function_ref<InFlightDiagnostic()> emitError,
                                 int64_t classes) {
  if (classes < 1)
    return emitError() << "labels need at least one class, got " << classes;
  return success();
}

LogicalResult EmbeddingType::verify(function_ref<InFlightDiagnostic()> emitError,
                                    int64_t dim) {
  if (dim < 1)
    return emitError() << "an embedding needs a positive width, got " << dim;
  return success();
}

//===----------------------------------------------------------------------===//
// Helpers shared by verifiers and the lowering
//===----------------------------------------------------------------------===//

namespace expc::expd {

int64_t intParam(DictionaryAttr params, StringRef name, int64_t fallback) {
  if (auto a = params.getAs<IntegerAttr>(name))
    return a.getInt();
  return fallback;
}

double floatParam(DictionaryAttr params, StringRef name, double fallback) {
  if (auto a = params.getAs<FloatAttr>(name))
    return a.getValueAsDouble();
  if (auto a = params.getAs<IntegerAttr>(name))
    return static_cast<double>(a.getInt());
  return fallback;
}

Type columnType(MLIRContext *ctx, StringRef source, DictionaryAttr params,
                StringRef column, std::string &error) {
  if (source != "simulated_screen") {
    error = "unknown dataset source '" + source.str() + "'";
    return {};
  }
  int64_t size = intParam(params, "image_size");
  if (column == "image")
    return ImagesType::get(ctx, intParam(params, "channels"), size, size);
  if (column == "perturbation")
    return LabelsType::get(ctx, intParam(params, "perturbations") + 1);
  if (column == "plate")
    return LabelsType::get(ctx, intParam(params, "plates"));
  error = "dataset source '" + source.str() + "' has no column '" + column.str() + "'";
  return {};
}

FailureOr<EmbeddingType> encoderResult(StringRef kind, DictionaryAttr params,
                                       Type input, std::string &error) {
  MLIRContext *ctx = params.getContext();
  int64_t dim = intParam(params, "dim");
  if (kind == "small_cnn") {
    auto images = dyn_cast<ImagesType>(input);
    if (!images) {
      error = "small_cnn takes images";
      return failure();
    }
    int64_t channels = intParam(params, "channels");
    if (images.getChannels() != channels) {
      error = "small_cnn expects " + std::to_string(channels) + " channels, got " +
              std::to_string(images.getChannels());
      return failure();
    }
    int64_t depth = intParam(params, "depth");
    if ((images.getHeight() >> depth) < 1 || (images.getWidth() >> depth) < 1) {
      error = "small_cnn of depth " + std::to_string(depth) + " needs images of at least " +
              std::to_string(int64_t(1) << depth) + " pixels";
      return failure();
    }
    return EmbeddingType::get(ctx, dim);
  }
  if (kind == "embedding_table") {
    auto labels = dyn_cast<LabelsType>(input);
    if (!labels) {
      error = "embedding_table takes labels";
      return failure();
    }
    if (labels.getClasses() != intParam(params, "classes")) {
      error = "embedding_table expects " + std::to_string(intParam(params, "classes")) +
              " classes, got " + std::to_string(labels.getClasses());
      return failure();
    }
    return EmbeddingType::get(ctx, dim);
  }
  error = "unknown encoder kind '" + kind.str() + "'";
  return failure();
}

} // namespace expc::expd

//===----------------------------------------------------------------------===//
// Verifiers
//===----------------------------------------------------------------------===//

// A number as a person writes it (0.001, 100), not 1.000000e-03.
static std::string shortNumber(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// Checks that `params` holds positive integers under each of `names`.
static LogicalResult requirePositiveInts(Operation *op, DictionaryAttr params,
                                         ArrayRef<StringRef> names) {
  for (StringRef n : names) {
    auto a = params.getAs<IntegerAttr>(n);
    if (!a)
      return op->emitOpError() << "needs integer parameter '" << n << "'";
    if (a.getInt() < 1)
      return op->emitOpError() << "parameter '" << n << "' must be positive, got " << a.getInt();
  }
  return success();
}

LogicalResult DatasetOp::verify() {
  if (getSource() != "simulated_screen")
    return emitOpError() << "unknown dataset source '" << getSource() << "'";
  if (failed(requirePositiveInts(*this, getParams(),
                                 {"plates", "holdout_plates", "perturbations", "replicates",
                                  "controls", "sites", "channels", "image_size"})))
    return failure();
  if (intParam(getParams(), "holdout_plates") >= intParam(getParams(), "plates"))
    return emitOpError() << "holds out every plate; none are left for training";
  return success();
}

LogicalResult ColumnOp::verify() {
  auto ds = getDataset().getDefiningOp<DatasetOp>();
  if (!ds)
    return success(); // a block argument: nothing to compare against
  std::string error;
  Type want = columnType(getContext(), ds.getSource(), ds.getParams(), getColumn(), error);
  if (!want)
    return emitOpError() << error;
  if (want != getType())
    return emitOpError() << "column '" << getColumn() << "' has type " << want
                         << ", not " << getType();
  return success();
}

LogicalResult EncoderOp::verify() {
  if (getKind() == "small_cnn")
    return requirePositiveInts(*this, getParams(), {"channels", "width", "depth", "dim"});
  if (getKind() == "embedding_table")
    return requirePositiveInts(*this, getParams(), {"classes", "dim"});
  return emitOpError() << "unknown encoder kind '" << getKind() << "'";
}

LogicalResult EncodeOp::verifySymbolUses(SymbolTableCollection &symbols) {
  auto encoder = symbols.lookupNearestSymbolFrom<EncoderOp>(*this, getEncoderAttr());
  if (!encoder)
    return emitOpError() << "'" << getEncoder() << "' does not name an exp.encoder";
  std::string error;
  FailureOr<EmbeddingType> out =
      encoderResult(encoder.getKind(), encoder.getParams(), getInput().getType(), error);
  if (failed(out))
    return emitOpError() << error;
  if (*out != getType())
    return emitOpError() << "encoder '" << getEncoder() << "' produces " << *out << ", not "
                         << getType();
  return success();
}

LogicalResult ContrastiveOp::verify() {
  if (getKind() != "clip")
    return emitOpError() << "unknown contrastive loss '" << getKind() << "'";
  auto lhs = cast<EmbeddingType>(getLhs().getType());
  auto rhs = cast<EmbeddingType>(getRhs().getType());
  if (lhs.getDim() != rhs.getDim())
    return emitOpError() << "pairs embeddings of width " << lhs.getDim() << " and "
                         << rhs.getDim();
  double t = getTemperature().convertToDouble();
  if (!(t > 0))
    return emitOpError() << "temperature must be positive, got " << t;
  double max = getMaxLogitScale().convertToDouble();
  if (1.0 / t > max * (1 + 1e-12))
    return emitOpError() << "initial logit scale 1/" << shortNumber(t)
                         << " exceeds max_logit_scale " << shortNumber(max);
  return success();
}

LogicalResult WeightedSumOp::verify() {
  if (getTerms().empty())
    return emitOpError() << "needs at least one term";
  if (getTerms().size() != getWeights().size())
    return emitOpError() << "has " << getTerms().size() << " terms but "
                         << getWeights().size() << " weights";
  for (double w : getWeights())
    if (!std::isfinite(w))
      return emitOpError() << "weights must be finite";
  return success();
}

LogicalResult TrainOp::verify() {
  if (getEpochs() < 1)
    return emitOpError() << "needs at least one epoch";
  if (getBatch() < 2)
    return emitOpError() << "needs a batch of at least 2 for a contrastive objective";
  if (getOptimizer() != "adamw" && getOptimizer() != "sgd")
    return emitOpError() << "unknown optimizer '" << getOptimizer() << "'";
  if (floatParam(getOptimizerParams(), "lr") <= 0)
    return emitOpError() << "needs a positive learning rate";
  return success();
}

LogicalResult EvaluateOp::verify() {
  StringRef metric = getMetric();
  size_t want = metric == "replicate_map" ? 1 : metric == "recall_at" ? 2 : 0;
  if (want == 0)
    return emitOpError() << "unknown metric '" << metric << "'";
  if (getInputs().size() != want)
    return emitOpError() << "'" << metric << "' takes " << want << " embeddings, got "
                         << getInputs().size();
  if (metric == "replicate_map") {
    if (!getOptions().getAs<StringAttr>("sameby") || !getOptions().getAs<StringAttr>("diffby"))
      return emitOpError() << "'replicate_map' needs 'sameby' and 'diffby' columns";
  } else {
    auto k = getOptions().getAs<ArrayAttr>("k");
    if (!k || k.empty())
      return emitOpError() << "'recall_at' needs a non-empty 'k' list";
    auto q = cast<EmbeddingType>(getInputs()[0].getType());
    auto c = cast<EmbeddingType>(getInputs()[1].getType());
    if (q.getDim() != c.getDim())
      return emitOpError() << "compares embeddings of width " << q.getDim() << " and "
                           << c.getDim();
  }
  return success();
}
