#include "plan/PlanEmitter.h"

#include "dialects/step/StepDialect.h"

#include "contract/StepOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"

using namespace mlir;
using nlohmann::json;

namespace expc {
namespace {

json shapeOf(Type t) {
  json shape = json::array();
  for (int64_t d : cast<RankedTensorType>(t).getShape())
    shape.push_back(ShapedType::isDynamic(d) ? -1 : d);
  return shape;
}

std::string dtypeOf(Type t) {
  Type e = cast<RankedTensorType>(t).getElementType();
  return e.isF32() ? "f32" : e.isInteger(64) ? "i64" : "unknown";
}

FailureOr<json> attrToJson(Operation *op, Attribute a) {
  if (auto i = dyn_cast<IntegerAttr>(a))
    return i.getType().isInteger(1) ? json(bool(i.getInt())) : json(i.getInt());
  if (auto b = dyn_cast<BoolAttr>(a))
    return json(b.getValue());
  if (auto f = dyn_cast<FloatAttr>(a))
    return json(f.getValueAsDouble());
  if (auto s = dyn_cast<StringAttr>(a))
    return json(s.str());
  if (auto r = dyn_cast<FlatSymbolRefAttr>(a))
    return json(r.getValue().str());
  if (auto arr = dyn_cast<ArrayAttr>(a)) {
    json out = json::array();
    for (Attribute x : arr) {
      FailureOr<json> j = attrToJson(op, x);
      if (failed(j))
        return failure();
      out.push_back(*j);
    }
    return out;
  }
  if (auto d = dyn_cast<DictionaryAttr>(a)) {
    json out = json::object();
    for (NamedAttribute n : d) {
      FailureOr<json> j = attrToJson(op, n.getValue());
      if (failed(j))
        return failure();
      out[n.getName().str()] = *j;
    }
    return out;
  }
  if (auto t = dyn_cast<TypeAttr>(a))
    return shapeOf(t.getValue());
  return op->emitOpError() << "has attribute " << a << " with no plan encoding";
}

// One op over numbered values, appended to `ops`.
template <typename IdFn> LogicalResult emitOp(Operation &op, IdFn &id, json &ops) {
  if (op.getDialect()->getNamespace() != "step")
    return op.emitOpError() << "is not a step-level op; lower it before emitting a plan";
  const std::string name = op.getName().stripDialect().str();
  if (!expcontract::findStepOp(name))
    return op.emitOpError() << "is not an op of the plan contract (contract/StepOps.inc, generated "
                               "from StepOps.td); run `ninja update-plan-contract`";
  json node;
  node["op"] = name;
  node["operands"] = json::array();
  for (Value v : op.getOperands())
    node["operands"].push_back(id(v));
  node["results"] = json::array();
  for (Value v : op.getResults())
    node["results"].push_back(id(v));
  node["attrs"] = json::object();
  for (NamedAttribute n : op.getAttrs()) {
    FailureOr<json> j = attrToJson(&op, n.getValue());
    if (failed(j))
      return failure();
    node["attrs"][n.getName().str()] = *j;
  }
  // The runtime's reshape kernel needs the per-row shape its result type holds.
  if (isa<step::ReshapeOp>(op)) {
    json shape = shapeOf(op.getResult(0).getType());
    shape.erase(shape.begin());
    node["attrs"]["shape"] = shape;
  }
  if (auto loc = dyn_cast<FileLineColLoc>(op.getLoc()))
    node["loc"] = loc.getFilename().str() + ":" + std::to_string(loc.getLine()) + ":" +
                  std::to_string(loc.getColumn());
  ops.push_back(std::move(node));
  return success();
}

// One graph: inputs (with their columns), ops in order over numbered values,
// outputs, and the elementwise groups among the ops.
FailureOr<json> emitGraph(func::FuncOp f) {
  // A group's block arguments and results alias the values outside it.
  llvm::DenseMap<Value, int64_t> ids;
  int64_t next = 0;
  auto id = [&](Value v) {
    auto [it, inserted] = ids.try_emplace(v, next);
    next += inserted;
    return it->second;
  };
  json g;
  g["inputs"] = json::array();
  for (BlockArgument arg : f.getArguments()) {
    unsigned i = arg.getArgNumber();
    json input = {{"id", id(arg)}, {"shape", shapeOf(arg.getType())}, {"dtype", dtypeOf(arg.getType())}};
    auto features = f.getArgAttrOfType<FlatSymbolRefAttr>(i, step::kFeaturesAttr);
    auto output = f.getArgAttrOfType<IntegerAttr>(i, step::kOutputAttr);
    if (auto column = f.getArgAttrOfType<StringAttr>(i, step::kColumnAttr)) {
      input["column"] = column.str();
      if (auto classes = f.getArgAttrOfType<IntegerAttr>(i, step::kClassesAttr))
        input["classes"] = classes.getInt();
      if (auto view = f.getArgAttrOfType<IntegerAttr>(i, step::kViewAttr))
        input["view"] = view.getInt();
      if (auto side = f.getArgAttrOfType<DictionaryAttr>(i, step::kSideAttr)) {
        FailureOr<json> how = attrToJson(f, side);
        if (failed(how))
          return failure();
        input["side"] = *how;
      }
    }
    else if (features && output)
      input["features"] = {{"graph", features.getValue().str()}, {"output", output.getInt()}};
    else
      return f.emitOpError() << "argument " << i << " has neither " << step::kColumnAttr
                             << " nor " << step::kFeaturesAttr;
    g["inputs"].push_back(std::move(input));
  }
  g["ops"] = json::array();
  g["outputs"] = json::array();
  g["fusions"] = json::array();
  for (Operation &op : f.getBody().front()) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (Value v : ret.getOperands())
        g["outputs"].push_back(id(v));
      continue;
    }
    // A group's ops go in line, over the values outside it; the fusions
    // table says which run of ops forms the group.
    if (auto fusion = dyn_cast<step::FusionOp>(op)) {
      Block &body = fusion.getBody().front();
      json group = {{"first", g["ops"].size()}, {"inputs", json::array()}, {"outputs", json::array()}};
      for (auto [arg, in] : llvm::zip(body.getArguments(), fusion.getInputs())) {
        ids[arg] = id(in);
        group["inputs"].push_back(id(in));
      }
      for (Operation &inner : body.without_terminator())
        if (failed(emitOp(inner, id, g["ops"])))
          return failure();
      for (auto [result, yielded] :
           llvm::zip(fusion.getResults(), body.getTerminator()->getOperands())) {
        ids[result] = id(yielded);
        group["outputs"].push_back(id(yielded));
      }
      group["count"] = g["ops"].size() - group["first"].get<size_t>();
      if (auto kernel = fusion->getAttrOfType<StringAttr>("step.kernel"))
        group["kernel"] = kernel.getValue().str();
      g["fusions"].push_back(std::move(group));
      continue;
    }
    if (failed(emitOp(op, id, g["ops"])))
      return failure();
  }
  g["value_count"] = next;
  return g;
}

} // namespace

namespace {

// The `data` section from the step.source directive.
FailureOr<json> emitSource(step::SourceOp src) {
  json data = {{"name", src.getName().str()}, {"kind", src.getKind().str()},
               {"params", *attrToJson(src, src.getParams())}};
  if (DictionaryAttr aug = src.getAugmentAttr()) {
    FailureOr<json> a = attrToJson(src, aug);
    if (failed(a))
      return failure();
    data["augment"] = *a;
  }
  if (double vf = src.getValFraction().convertToDouble(); vf > 0)
    data["val_fraction"] = vf;
  if (src.getBag() > 1)
    data["bag"] = src.getBag();
  if (DictionaryAttr select = src.getSelectAttr()) {
    FailureOr<json> s = attrToJson(src, select);
    if (failed(s))
      return failure();
    for (auto &[key, value] : s->items()) // hold_out, keep, drop
      data[key] = value;
  }
  return data;
}

json emitParameter(step::ParameterOp p) {
  json param = {{"name", p.getSymName().str()},
                {"shape", shapeOf(p.getType())},
                {"init", p.getInit().str()},
                {"scale", p.getScale().convertToDouble()},
                {"decay", p.getDecay()}};
  if (auto max = p.getMax())
    param["max"] = max->convertToDouble();
  if (auto weights = p.getWeights())
    param["weights"] = {{"file", weights->str()}, {"name", p.getWeightsName().value_or("").str()}};
  if (p.getFrozen())
    param["frozen"] = true;
  return param;
}

// The `train` section from the step.train_loop directive.
FailureOr<json> emitTrain(step::TrainLoopOp t) {
  FailureOr<json> optParams = attrToJson(t, t.getOptimizerParams());
  FailureOr<json> schedParams = attrToJson(t, t.getScheduleParams());
  if (failed(optParams) || failed(schedParams))
    return failure();
  return json{{"name", t.getName().str()},
              {"graph", t.getGraph().str()},
              {"epochs", t.getEpochs()},
              {"steps", t.getSteps()},
              {"batch", t.getBatch()},
              {"accumulate", t.getAccumulate()},
              {"seed", t.getSeed()},
              {"optimizer", {{"kind", t.getOptimizer().str()}, {"params", *optParams}}},
              {"schedule", {{"kind", t.getSchedule().str()}, {"params", *schedParams}}},
              {"clip_grad_norm", t.getClipGradNorm().convertToDouble()},
              {"precision", t.getPrecision().str()},
              {"deterministic", t.getDeterministic()},
              {"early_stop_patience", t.getEarlyStopPatience()}};
}

FailureOr<json> emitEvaluation(step::EvaluateOp e) {
  FailureOr<json> graphs = attrToJson(e, e.getGraphs());
  FailureOr<json> options = attrToJson(e, e.getOptions());
  if (failed(graphs) || failed(options))
    return failure();
  return json{{"name", e.getName().str()}, {"metric", e.getMetric().str()}, {"graphs", *graphs}, {"options", *options}};
}

// One module-level op into its section of `plan`.
LogicalResult emitTopLevel(Operation &op, json &plan, bool &haveSource, bool &haveTrain) {
  auto put = [](FailureOr<json> j, json &slot) {
    if (failed(j))
      return failure();
    slot = std::move(*j);
    return success();
  };
  if (auto src = dyn_cast<step::SourceOp>(op)) {
    if (haveSource)
      return src.emitOpError() << "is a second data source; a plan reads one";
    haveSource = true;
    return put(emitSource(src), plan["data"]);
  }
  if (auto p = dyn_cast<step::ParameterOp>(op)) {
    plan["parameters"].push_back(emitParameter(p));
    return success();
  }
  if (auto f = dyn_cast<func::FuncOp>(op))
    return put(emitGraph(f), plan["graphs"][f.getSymName().str()]);
  if (auto t = dyn_cast<step::TrainLoopOp>(op)) {
    haveTrain = true;
    return put(emitTrain(t), plan["train"]);
  }
  if (auto p = dyn_cast<step::PrecomputeOp>(op)) {
    plan["precompute"].push_back({{"graph", p.getGraph().str()}});
    return success();
  }
  if (auto e = dyn_cast<step::EvaluateOp>(op)) {
    json entry;
    if (failed(put(emitEvaluation(e), entry)))
      return failure();
    plan["evaluations"].push_back(std::move(entry));
    return success();
  }
  return op.emitOpError() << "cannot appear in a plan; run exp-lower-to-step first";
}

} // namespace

FailureOr<json> emitPlan(ModuleOp module, const PlanHeader &header) {
  json plan;
  plan["format"] = "exp-plan";
  plan["format_version"] = kPlanFormatVersion;
  plan["compiler"] = {{"name", "exp"}, {"build_id", header.buildId}};
  plan["source"] = {{"path", header.sourcePath},
                    {"sha256", header.sourceSha256},
                    {"normalized_sha256", header.normalizedSha256},
                    {"overrides", header.overrides}};
  plan["target"] = header.target;
  // step-generate-gpu-kernels' PTX module, which the groups' kernels name.
  if (auto gpu = module->getAttrOfType<DictionaryAttr>("step.gpu")) {
    FailureOr<json> g = attrToJson(module, gpu);
    if (failed(g))
      return failure();
    plan["gpu"] = *g;
  }
  plan["parameters"] = json::array();
  plan["graphs"] = json::object();
  plan["evaluations"] = json::array();
  plan["precompute"] = json::array();
  bool haveSource = false, haveTrain = false;
  for (Operation &op : module.getBody()->getOperations())
    if (failed(emitTopLevel(op, plan, haveSource, haveTrain)))
      return failure();
  if (!haveSource || !haveTrain)
    return module.emitError() << "a plan needs a step.source and a step.train_loop";
  return plan;
}

} // namespace expc
