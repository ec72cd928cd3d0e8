#include "dialects/exp/ExpDialect.h"
#include "dialects/exp/Objectives.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/StringSwitch.h"
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

LogicalResult BagType::verify(function_ref<InFlightDiagnostic()> emitError, int64_t count,
                              ImagesType) {
  if (count < 1)
    return emitError() << "a bag needs at least one instance, got " << count;
  return success();
}

LogicalResult LabelsType::verify(function_ref<InFlightDiagnostic()> emitError,
                                 int64_t classes) {
  // 0: a real source's column whose classes only the data knows (counted
  // when it is read).
  if (classes < 0)
    return emitError() << "labels need a non-negative class count (0: counted when read), got " << classes;
  return success();
}

LogicalResult EmbeddingType::verify(function_ref<InFlightDiagnostic()> emitError, ArrayRef<int64_t> shape) {
  if (shape.empty())
    return emitError() << "an embedding needs at least one dimension";
  for (int64_t d : shape)
    if (d < 1)
      return emitError() << "an embedding needs positive dimensions, got " << d;
  return success();
}

LogicalResult TokenIdsType::verify(function_ref<InFlightDiagnostic()> emitError, int64_t length) {
  if (length < 2)
    return emitError() << "token ids need room for [CLS] and [SEP], got length " << length;
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

SmallVector<StringRef> sampledColumns(StringRef source, DictionaryAttr params, int64_t bag) {
  SmallVector<StringRef> sampled;
  auto pairing = params.getAs<StringAttr>("pairing");
  if ((source == "simulated_screen" || source == "jump_cp") && pairing && pairing.getValue() == "micon")
    sampled = {"control1", "treated2", "control2"};
  if (bag > 1) // each batch draws which sites fill a well's bag
    sampled.push_back("image");
  return sampled;
}

namespace {

// The readable columns of the real sources beyond RxRx1 (stdlib/std/data.exp):
// their image channels (0: the `channels` parameter, 5 by default) and labels
// columns with a fixed class count (0: counted when the data is read).
struct RealSource {
  StringRef name;
  int64_t channels;
  int64_t defaultSize;
  ArrayRef<std::pair<StringRef, int64_t>> labels;
};
const RealSource *realSource(StringRef source) {
  static const std::pair<StringRef, int64_t> kJump[] = {
      {"compound", 0}, {"perturbation", 0}, {"gene", 0}, {"perturbation_type", 4}, {"split", 3}, {"control", 2},
      {"plate", 0},    {"batch", 0}, {"source", 0}, {"smiles", 0}};
  static const std::pair<StringRef, int64_t> kRxrx3[] = {
      {"treatment", 0}, {"perturbation", 0}, {"gene", 0}, {"perturbation_type", 3}, {"cell_type", 0},
      {"experiment", 0}, {"plate", 0},
      {"smiles", 0}};
  static const std::pair<StringRef, int64_t> kRxrx19a[] = {
      {"treatment", 0}, {"perturbation", 0}, {"disease_condition", 0}, {"cell_type", 2}, {"experiment", 0},
      {"plate", 0},
      {"smiles", 0}};
  static const std::pair<StringRef, int64_t> kBray[] = {
      {"compound", 0}, {"perturbation", 0}, {"plate", 0}, {"well", 0}, {"split", 3}, {"smiles", 0}};
  static const std::pair<StringRef, int64_t> kCellPainting[] = {
      {"perturbation", 0}, {"control", 2}, {"plate", 0}, {"batch", 0}, {"well", 0}};
  static const RealSource kSources[] = {{"jump_cp", 5, 224, kJump},
                                        {"rxrx3_core", 6, 512, kRxrx3},
                                        {"rxrx19a", 5, 1024, kRxrx19a},
                                        {"bray2017", 5, 520, kBray},
                                        {"cellpainting", 0, 224, kCellPainting}};
  for (const RealSource &s : kSources)
    if (s.name == source)
      return &s;
  return nullptr;
}

} // namespace

bool isRealSource(StringRef source) { return source == "rxrx1" || realSource(source); }

Type columnType(MLIRContext *ctx, StringRef source, DictionaryAttr params,
                StringRef column, std::string &error) {
  if (const RealSource *real = realSource(source)) {
    bool paired = llvm::is_contained({"treated1", "control1", "treated2", "control2"}, column);
    auto pairing = params.getAs<StringAttr>("pairing");
    if (paired && source == "jump_cp" && (!pairing || pairing.getValue() != "micon")) {
      error = "column '" + column.str() + "' needs pairing = \"micon\"";
      return {};
    }
    if (column == "image" || (paired && source == "jump_cp")) {
      int64_t size = intParam(params, "image_size", real->defaultSize);
      int64_t channels = real->channels ? real->channels : intParam(params, "channels", 5);
      return ImagesType::get(ctx, channels, size, size);
    }
    for (auto [name, classes] : real->labels)
      if (column == name)
        return LabelsType::get(ctx, classes);
    error = "dataset source '" + source.str() + "' has no readable column '" + column.str() + "'";
    return {};
  }
  if (source == "rxrx1") {
    // RxRx1's columns (stdlib/std/data.exp); `well` has no class count yet.
    static const std::pair<StringRef, int64_t> kLabels[] = {
        {"sirna", 1139}, {"perturbation", 1139}, {"cell_type", 4}, {"experiment", 51}, {"plate", 4}, {"site", 2}};
    if (column == "image") {
      int64_t size = intParam(params, "image_size", 512);
      return ImagesType::get(ctx, intParam(params, "channels", 6), size, size);
    }
    for (auto [name, classes] : kLabels)
      if (column == name)
        return LabelsType::get(ctx, classes);
    error = "dataset source 'rxrx1' has no readable column '" + column.str() + "'";
    return {};
  }
  if (source != "simulated_screen") {
    error = "unknown dataset source '" + source.str() + "'";
    return {};
  }
  int64_t size = intParam(params, "image_size");
  bool paired = llvm::is_contained({"treated1", "control1", "treated2", "control2"}, column);
  auto pairing = params.getAs<StringAttr>("pairing");
  if (paired && (!pairing || pairing.getValue() != "micon")) {
    error = "column '" + column.str() + "' needs pairing = \"micon\"";
    return {};
  }
  if (column == "image" || paired)
    return ImagesType::get(ctx, intParam(params, "channels"), size, size);
  if (column == "perturbation")
    return LabelsType::get(ctx, intParam(params, "perturbations") + 1);
  if (column == "plate")
    return LabelsType::get(ctx, intParam(params, "plates"));
  if (column == "cell_type")
    return LabelsType::get(ctx, intParam(params, "cell_lines", 1));
  if (column == "smiles") // a molecules column: codes of its distinct strings
    return LabelsType::get(ctx, 0);
  error = "dataset source '" + source.str() + "' has no column '" + column.str() + "'";
  return {};
}

RankedTensorType rowType(Type column) {
  if (auto bag = dyn_cast<BagType>(column)) {
    ImagesType images = bag.getElement();
    return RankedTensorType::get(
        {bag.getCount(), images.getChannels(), images.getHeight(), images.getWidth()},
        Float32Type::get(column.getContext()));
  }
  if (auto images = dyn_cast<ImagesType>(column))
    return RankedTensorType::get({images.getChannels(), images.getHeight(), images.getWidth()},
                                 Float32Type::get(column.getContext()));
  if (isa<LabelsType>(column))
    return RankedTensorType::get({}, IntegerType::get(column.getContext(), 64));
  if (auto emb = dyn_cast<EmbeddingType>(column)) // side information or an encoder's output, per row
    return RankedTensorType::get(emb.getShape(), Float32Type::get(column.getContext()));
  if (auto ids = dyn_cast<TokenIdsType>(column)) // a text side, tokenised per row
    return RankedTensorType::get({ids.getLength()}, IntegerType::get(column.getContext(), 64));
  return nullptr;
}

bool isSideKind(StringRef kind) {
  return kind == "embedding_file" || kind == "transcriptome" || kind == "morgan" || kind == "knowledge_graph" ||
         kind == "text";
}

int64_t sideWidth(StringRef kind, DictionaryAttr params) {
  return kind == "morgan" ? intParam(params, "bits", 1024)
         : kind == "text" ? intParam(params, "length", 0)
                          : intParam(params, "dim", 0);
}

FailureOr<EmbeddingType> encoderResult(StringRef kind, Type input, std::string &error) {
  // Pretrained extern encoders: 3-channel images to a fixed width.
  int64_t width = kind == "dino_vitb8" ? 768 : kind == "dinov2_giant" ? 1536 : 0;
  if (!width) {
    error = "unknown encoder kind '" + kind.str() + "'";
    return failure();
  }
  auto images = dyn_cast<ImagesType>(input);
  if (!images || images.getChannels() != 3) {
    error = kind.str() + " takes 3-channel images";
    return failure();
  }
  return EmbeddingType::get(input.getContext(), width);
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
  if (isRealSource(getSource())) {
    auto path = getParams().getAs<StringAttr>("path");
    if (!path || path.getValue().empty())
      return emitOpError() << "needs a non-empty string parameter 'path'";
    if (failed(requirePositiveInts(*this, getParams(), {"image_size"})))
      return failure();
    if (getSource() == "rxrx1" && failed(requirePositiveInts(*this, getParams(), {"channels"})))
      return failure();
  } else if (getSource() == "simulated_screen") {
    if (failed(requirePositiveInts(*this, getParams(),
                                   {"plates", "holdout_plates", "perturbations", "replicates",
                                    "controls", "sites", "channels", "image_size"})))
      return failure();
    if (intParam(getParams(), "holdout_plates") >= intParam(getParams(), "plates"))
      return emitOpError() << "holds out every plate; none are left for training";
  } else {
    return emitOpError() << "unknown dataset source '" << getSource() << "'";
  }
  if (double vf = getValFraction().convertToDouble(); !(vf >= 0 && vf <= 0.5))
    return emitOpError() << "needs val_fraction in [0, 0.5]";
  if (getBag() < 1)
    return emitOpError() << "needs bag >= 1";
  auto pairing = getParams().getAs<StringAttr>("pairing");
  if (getBag() > 1 && pairing && pairing.getValue() != "none")
    return emitOpError() << "cannot bag sites and pair them at once";
  if (DictionaryAttr aug = getAugmentAttr())
    for (NamedAttribute a : aug) {
      StringRef k = a.getName().strref();
      bool isBool = isa<BoolAttr>(a.getValue()), isFloat = isa<FloatAttr>(a.getValue());
      if (!(((k == "flip" || k == "rot90") && isBool) ||
            ((k == "crop" || k == "intensity") && isFloat)))
        return emitOpError() << "has an unknown augmentation '" << k
                             << "' (crop: float, flip: bool, rot90: bool, intensity: float)";
    }
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
  if (auto images = dyn_cast<ImagesType>(want); images && ds.getBag() > 1)
    want = BagType::get(getContext(), ds.getBag(), images);
  // A column counted only when read may be given a class count by its use
  // (`EmbeddingTable(classes = 500)`); the runtime checks the data fits it.
  if (auto labels = dyn_cast<LabelsType>(want); labels && labels.getClasses() == 0 && isa<LabelsType>(getType()))
    return success();
  if (want != getType())
    return emitOpError() << "column '" << getColumn() << "' has type " << want
                         << ", not " << getType();
  return success();
}

LogicalResult EncoderOp::verify() {
  if (getNetwork())
    return success(); // checked against the network in verifySymbolUses
  if (getKind() == "knowledge_graph") {
    auto sources = getParams().getAs<ArrayAttr>("sources");
    if (!sources || sources.empty())
      return emitOpError() << "knowledge graph needs a non-empty list of `sources`";
    return success();
  }
  if (isSideKind(getKind())) {
    if (sideWidth(getKind(), getParams()) < 1)
      return emitOpError() << "side information '" << getKind() << "' needs a positive width";
    if (getKind() == "text") {
      for (const char *key : {"template", "vocab_file"})
        if (!getParams().getAs<StringAttr>(key))
          return emitOpError() << "side information 'text' needs a `" << key << "`";
      if (intParam(getParams(), "vocab", 0) < 1)
        return emitOpError() << "side information 'text' needs the token table's `vocab` size";
      return success();
    }
    if (!getParams().getAs<StringAttr>("path") && getKind() != "morgan")
      return emitOpError() << "side information '" << getKind() << "' needs a `path`";
    return success();
  }
  std::string error;
  auto probe = ImagesType::get(getContext(), 3, 224, 224);
  if (failed(encoderResult(getKind(), probe, error)) && error.rfind("unknown", 0) == 0)
    return emitOpError() << error << "; encoders written in .exp need a `network`";
  return success();
}

LogicalResult EncoderOp::verifySymbolUses(SymbolTableCollection &symbols) {
  if (auto ref = getNetworkAttr())
    if (!symbols.lookupNearestSymbolFrom<NetworkOp>(*this, ref))
      return emitOpError() << "'" << ref.getValue() << "' does not name an exp.network";
  return success();
}

LogicalResult EncodeOp::verifySymbolUses(SymbolTableCollection &symbols) {
  auto encoder = symbols.lookupNearestSymbolFrom<EncoderOp>(*this, getEncoderAttr());
  if (!encoder)
    return emitOpError() << "'" << getEncoder() << "' does not name an exp.encoder";
  if (auto ref = encoder.getNetworkAttr()) {
    auto net = symbols.lookupNearestSymbolFrom<NetworkOp>(encoder, ref);
    if (!net)
      return success(); // the encoder reports it
    Block &body = net.getBody().front();
    SmallVector<Type> rows;
    for (Value in : getOperands())
      rows.push_back(rowType(in.getType()));
    if (TypeRange(rows) != body.getArgumentTypes())
      return emitOpError() << "applies network '" << ref.getValue() << "' to rows of types " << TypeRange(rows)
                           << ", but it takes " << body.getArgumentTypes();
    auto out = cast<RankedTensorType>(body.getTerminator()->getOperand(0).getType());
    auto emb = dyn_cast<EmbeddingType>(getType());
    if (!emb || out.getShape() != emb.getShape())
      return emitOpError() << "network '" << ref.getValue() << "' produces " << out << ", not "
                           << getType();
    return success();
  }
  if (!getExtra().empty())
    return emitOpError() << "applies '" << encoder.getKind() << "' to " << getNumOperands()
                         << " inputs; only networks written in .exp take more than one";
  if (isSideKind(encoder.getKind())) {
    auto labels = dyn_cast<LabelsType>(getInput().getType());
    if (!labels)
      return emitOpError() << "side information '" << encoder.getKind() << "' is keyed by a labels column, not "
                           << getInput().getType();
    auto graph = dyn_cast<KGraphType>(getType());
    if ((encoder.getKind() == "knowledge_graph") != bool(graph))
      return emitOpError() << "side information '" << encoder.getKind() << "' cannot give " << getType();
    if (graph) {
      if (graph.getClasses() != labels.getClasses())
        return emitOpError() << "relates " << graph.getClasses() << " classes over a labels column of "
                             << labels.getClasses();
      return success();
    }
    auto ids = dyn_cast<TokenIdsType>(getType());
    if ((encoder.getKind() == "text") != bool(ids))
      return emitOpError() << "side information '" << encoder.getKind() << "' cannot give " << getType();
    if (ids) {
      if (ids.getLength() != sideWidth("text", encoder.getParams()))
        return emitOpError() << "gives " << sideWidth("text", encoder.getParams()) << " token ids per row, not "
                             << getType();
      return success();
    }
    if (cast<EmbeddingType>(getType()).getDim() != sideWidth(encoder.getKind(), encoder.getParams()))
      return emitOpError() << "side information '" << encoder.getKind() << "' gives vectors of width "
                           << sideWidth(encoder.getKind(), encoder.getParams()) << ", not " << getType();
    return success();
  }
  std::string error;
  FailureOr<EmbeddingType> out = encoderResult(encoder.getKind(), getInput().getType(), error);
  if (failed(out))
    return emitOpError() << error;
  if (*out != getType())
    return emitOpError() << "encoder '" << getEncoder() << "' produces " << *out << ", not "
                         << getType();
  return success();
}

LogicalResult NetworkOp::verify() {
  Block &body = getBody().front();
  if (body.empty() || !isa<YieldOp>(body.back()))
    return emitOpError() << "must end with exp.yield";
  for (Type t : body.getArgumentTypes())
    if (!isa<RankedTensorType>(t))
      return emitOpError() << "inputs must be ranked tensors, got " << t;
  return success();
}

// A call or apply takes what its target takes and gives what it gives, maybe
// over extra leading dimensions (channels encoded separately, bags of sites):
// the same ones on every operand and on the result.
static LogicalResult checkSignature(Operation *op, Region &target, StringRef what) {
  Block &body = target.front();
  Type out = body.getTerminator()->getOperand(0).getType();
  std::optional<ArrayRef<int64_t>> lead;
  auto matches = [&](Type given, Type declared) {
    auto g = dyn_cast<RankedTensorType>(given), d = dyn_cast<RankedTensorType>(declared);
    if (!g || !d)
      return given == declared;
    int64_t extra = g.getRank() - d.getRank();
    if (extra < 0 || g.getElementType() != d.getElementType() ||
        g.getShape().drop_front(extra) != d.getShape())
      return false;
    ArrayRef<int64_t> l = g.getShape().take_front(extra);
    if (!lead)
      lead = l;
    return *lead == l;
  };
  if (op->getNumOperands() != body.getNumArguments() ||
      !llvm::all_of(llvm::zip(op->getOperandTypes(), body.getArgumentTypes()),
                    [&](auto p) { return matches(std::get<0>(p), std::get<1>(p)); }))
    return op->emitOpError() << "passes " << op->getOperandTypes() << " to " << what
                             << ", which takes " << body.getArgumentTypes();
  if (!matches(op->getResult(0).getType(), out))
    return op->emitOpError() << "expects " << op->getResult(0).getType() << " from " << what
                             << ", which gives " << out
                             << (lead && !lead->empty() ? " over the inputs' leading dimensions" : "");
  return success();
}

LogicalResult CallOp::verifySymbolUses(SymbolTableCollection &symbols) {
  auto net = symbols.lookupNearestSymbolFrom<NetworkOp>(*this, getCalleeAttr());
  if (!net)
    return emitOpError() << "'" << getCallee() << "' does not name an exp.network";
  return checkSignature(*this, net.getBody(), "network '" + getCallee().str() + "'");
}

LogicalResult ApplyOp::verifySymbolUses(SymbolTableCollection &symbols) {
  auto enc = symbols.lookupNearestSymbolFrom<EncoderOp>(*this, getEncoderAttr());
  if (!enc)
    return emitOpError() << "'" << getEncoder() << "' does not name an exp.encoder";
  if (auto ref = enc.getNetworkAttr())
    if (auto net = symbols.lookupNearestSymbolFrom<NetworkOp>(enc, ref))
      return checkSignature(*this, net.getBody(), "encoder '" + getEncoder().str() + "'");
  return success();
}

LogicalResult ContrastiveOp::verify() {
  if (getKind() != "clip")
    return emitOpError() << "unknown contrastive loss '" << getKind() << "'";
  auto lhs = cast<EmbeddingType>(getLhs().getType());
  auto rhs = cast<EmbeddingType>(getRhs().getType());
  if (!lhs.isVector() || !rhs.isVector())
    return emitOpError() << "pairs vector embeddings, not " << lhs << " and " << rhs;
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

LogicalResult ObjectiveOp::verify() {
  // Each kind's inputs and how many leading embeddings must share a width:
  // the std.objectives registry (Objectives.h).
  const ObjectiveKind *shape = findObjectiveKind(getKind());
  if (!shape)
    return emitOpError() << "unknown objective '" << getKind() << "'";
  if (getInputs().size() != shape->kinds.size())
    return emitOpError() << "'" << getKind() << "' takes " << shape->kinds.size() << " inputs, got "
                         << getInputs().size();
  int64_t labelClasses = -1;
  for (auto [k, in] : llvm::enumerate(getInputs())) {
    Type t = in.getType();
    char want = shape->kinds[k];
    auto emb = dyn_cast<EmbeddingType>(t);
    bool ok = want == 'e'   ? emb && emb.isVector()
              : want == 'f' ? emb && (emb.getShape().size() == 2 || emb.getShape().size() == 3)
              : want == 'l' ? isa<LabelsType>(t)
                            : isa<KGraphType>(t);
    if (!ok)
      return emitOpError() << "input " << k << " of '" << getKind() << "' must be "
                           << (want == 'e'   ? "a vector embedding"
                               : want == 'f' ? "per-channel features ((sites,) channels, width)"
                               : want == 'l' ? "a labels column"
                                             : "a knowledge graph")
                           << ", got " << t;
    if (auto l = dyn_cast<LabelsType>(t))
      labelClasses = l.getClasses();
    if (auto g = dyn_cast<KGraphType>(t); g && labelClasses > 0 && g.getClasses() > 0 &&
                                          g.getClasses() != labelClasses)
      return emitOpError() << "relates " << g.getClasses() << " classes by a graph, but its labels have "
                           << labelClasses;
  }
  for (size_t k = 1; k < shape->paired; ++k) {
    int64_t a = cast<EmbeddingType>(getInputs()[0].getType()).getDim();
    int64_t b = cast<EmbeddingType>(getInputs()[k].getType()).getDim();
    if (a != b)
      return emitOpError() << "pairs embeddings of width " << a << " and " << b;
  }
  if (getKind() == "classify" && labelClasses <= 0)
    return emitOpError() << "sizes its head by the labels' class count, which only the data knows "
                            "(declare the column with a class count)";
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
  if (!llvm::is_contained({"adamw", "sgd", "lamb"}, getOptimizer()))
    return emitOpError() << "unknown optimizer '" << getOptimizer() << "'";
  if (floatParam(getOptimizerParams(), "lr") <= 0)
    return emitOpError() << "needs a positive learning rate";
  if (!llvm::is_contained({"constant_lr", "warmup_cosine", "one_cycle", "reduce_on_plateau"},
                          getSchedule()))
    return emitOpError() << "unknown schedule '" << getSchedule() << "'";
  if (getPrecision() != "fp32" && getPrecision() != "bf16")
    return emitOpError() << "unknown precision '" << getPrecision() << "'";
  if (getSteps() < 0 || getAccumulate() < 1)
    return emitOpError() << "needs steps >= 0 and accumulate >= 1";
  if (!(getClipGradNorm().convertToDouble() >= 0))
    return emitOpError() << "needs clip_grad_norm >= 0";
  if (getEarlyStopPatience() < 0)
    return emitOpError() << "needs early_stop_patience >= 0";
  return success();
}

LogicalResult EvaluateOp::verify() {
  StringRef metric = getMetric();
  // Each metric: its embeddings, then the label columns it reads.
  struct Shape {
    size_t inputs;
    SmallVector<StringRef> columns;
    StringRef list; // a non-empty list of ranks, when it takes one
  };
  std::optional<Shape> shape =
      llvm::StringSwitch<std::optional<Shape>>(metric)
          .Case("replicate_map", Shape{1, {"sameby", "diffby"}, ""})
          .Case("recall_at", Shape{2, {}, "k"})
          .Case("knn_retrieval", Shape{1, {"labels", "exclude_same"}, ""})
          .Case("zero_shot", Shape{2, {"labels"}, "top"})
          .Case("clustering", Shape{1, {"labels", "batch"}, ""})
          .Case("few_shot", Shape{1, {"labels"}, "top"})
          .Default(std::nullopt);
  if (!shape)
    return emitOpError() << "unknown metric '" << metric << "'";
  if (getInputs().size() != shape->inputs)
    return emitOpError() << "'" << metric << "' takes " << shape->inputs << " embeddings, got "
                         << getInputs().size();
  for (StringRef column : shape->columns)
    if (!getOptions().getAs<StringAttr>(column))
      return emitOpError() << "'" << metric << "' needs a '" << column << "' column";
  if (!shape->list.empty()) {
    auto list = getOptions().getAs<ArrayAttr>(shape->list);
    if (!list || list.empty())
      return emitOpError() << "'" << metric << "' needs a non-empty '" << shape->list << "' list";
  }
  for (Value in : getInputs())
    if (!cast<EmbeddingType>(in.getType()).isVector())
      return emitOpError() << "'" << metric << "' scores vector embeddings, not " << in.getType();
  if (shape->inputs == 2) {
    auto q = cast<EmbeddingType>(getInputs()[0].getType());
    auto c = cast<EmbeddingType>(getInputs()[1].getType());
    if (q.getDim() != c.getDim())
      return emitOpError() << "compares embeddings of width " << q.getDim() << " and "
                           << c.getDim();
  }
  return success();
}
