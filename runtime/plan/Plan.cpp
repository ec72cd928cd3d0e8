#include "plan/Plan.h"

#include "record/Sha256.h"

#include "contract/StepOps.h"

#include <algorithm>
#include <filesystem>
#include <limits>
#include <type_traits>

namespace exprt {
namespace {

using nlohmann::json;

// Typed access to JSON fields with errors that name the path.
class Reader {
public:
  explicit Reader(std::string origin) : origin_(std::move(origin)) {}

  const json *field(const json &obj, const std::string &path, const char *key, bool required = true) {
    if (!obj.is_object()) {
      fail(path, "expected an object");
      return nullptr;
    }
    auto it = obj.find(key);
    if (it == obj.end()) {
      if (required)
        fail(path.empty() ? key : path + "." + key, "is missing");
      return nullptr;
    }
    return &*it;
  }
  // Whether `v` converts to T without loss: an integer field takes only
  // JSON integers (1e300 would be undefined behaviour as int64_t).
  template <typename T> static bool fits(const json &v) {
    if constexpr (std::is_same_v<T, bool>)
      return v.is_boolean();
    else if constexpr (std::is_integral_v<T>)
      return v.is_number_integer() &&
             (v.is_number_unsigned() ? v.get<uint64_t>() <= uint64_t(std::numeric_limits<T>::max())
                                     : v.get<int64_t>() >= int64_t(std::numeric_limits<T>::min()) &&
                                           v.get<int64_t>() <= int64_t(std::numeric_limits<T>::max()));
    else if constexpr (std::is_same_v<T, std::vector<int64_t>>)
      return v.is_array() && std::all_of(v.begin(), v.end(), [](const json &e) { return fits<int64_t>(e); });
    else
      return true;
  }
  template <typename T> bool get(const json &obj, const std::string &path, const char *key, T &out,
                                 bool required = true) {
    const json *f = field(obj, path, key, required);
    if (!f)
      return !required;
    try {
      if (!fits<T>(*f)) // nlohmann casts a float to an integer field unchecked
        throw json::type_error::create(302, "a number that is not an integer", f);
      out = f->get<T>();
      return true;
    } catch (const json::exception &) {
      fail(path.empty() ? key : path + "." + key, "has the wrong type");
      return false;
    }
  }
  void fail(const std::string &path, const std::string &what, ErrorKind kind = ErrorKind::PlanInvalid) {
    if (error_.empty()) {
      error_ = origin_ + ": `" + path + "` " + what;
      kind_ = kind;
    }
  }
  bool ok() const { return error_.empty(); }
  // The first error, with its class.
  Status status() const { return Status::error(kind_, error_); }

private:
  std::string origin_;
  std::string error_;
  ErrorKind kind_ = ErrorKind::PlanInvalid;
};

// Each op attribute the runtime reads, by its plan name, once: readAttrs
// goes through this table, and the plan contract test checks that it covers
// every attribute the contract's ops declare.
using AttrReader = void (*)(Reader &, const json &, const std::string &, OpAttrs &);
#define EXP_PLAN_ATTR(key, member)                                                                     \
  {key, [](Reader &r, const json &attrs, const std::string &path, OpAttrs &a) {                       \
     r.get(attrs, path, key, a.member, false);                                                         \
   }}
const std::pair<std::string_view, AttrReader> kAttrReaders[] = {
    EXP_PLAN_ATTR("parameter", parameter), EXP_PLAN_ATTR("value", value),
    EXP_PLAN_ATTR("stride", stride),       EXP_PLAN_ATTR("padding", padding),
    EXP_PLAN_ATTR("kernel", kernel),       EXP_PLAN_ATTR("copies", copies),
    EXP_PLAN_ATTR("patch", patch),         EXP_PLAN_ATTR("heads", heads),
    EXP_PLAN_ATTR("index", index),         EXP_PLAN_ATTR("from", from),
    EXP_PLAN_ATTR("at", at),               EXP_PLAN_ATTR("training", training),
    EXP_PLAN_ATTR("momentum", momentum),   EXP_PLAN_ATTR("transpose_b", transposeB),
    EXP_PLAN_ATTR("kind", kind),           EXP_PLAN_ATTR("eps", eps),
    EXP_PLAN_ATTR("p", p),                 EXP_PLAN_ATTR("shape", shape), // reshape: the emitter's, from the result type
    {"params",
     [](Reader &, const json &attrs, const std::string &, OpAttrs &a) {
       if (attrs.contains("params") && attrs["params"].is_object())
         for (const auto &[key, v] : attrs["params"].items())
           if (v.is_number())
             a.params[key] = v.get<double>();
     }},
};
#undef EXP_PLAN_ATTR

void readAttrs(Reader &r, const json &attrs, const std::string &path, OpAttrs &a) {
  if (!attrs.is_object())
    return r.fail(path, "expected an object");
  for (const auto &[key, read] : kAttrReaders)
    read(r, attrs, path, a);
}

// Groups are disjoint runs of elementwise ops, in order; a group reads values
// computed before it and yields values its ops compute.
void readFusions(Reader &r, const json &fusions, const std::string &path, Graph &graph) {
  if (!fusions.is_array())
    return r.fail(path, "expected an array");
  const int64_t nops = static_cast<int64_t>(graph.ops.size());
  int64_t end = 0; // one past the previous group
  // Values computed before the current group: inputs, then ops' results up
  // to `marked` (groups come in order, so this only grows).
  std::vector<bool> before(static_cast<size_t>(graph.valueCount), false);
  int64_t marked = 0;
  auto mark = [&](int64_t v) {
    if (v >= 0 && v < graph.valueCount)
      before[v] = true;
  };
  for (const GraphInput &in : graph.inputs)
    mark(in.id);
  for (size_t i = 0; i < fusions.size() && r.ok(); ++i) {
    std::string p = path + "[" + std::to_string(i) + "]";
    Fusion f;
    r.get(fusions[i], p, "first", f.first);
    r.get(fusions[i], p, "count", f.count);
    r.get(fusions[i], p, "inputs", f.inputs);
    r.get(fusions[i], p, "outputs", f.outputs);
    r.get(fusions[i], p, "kernel", f.kernel, false);
    if (!r.ok())
      return;
    if (f.first < end || f.count < 1 || f.first + f.count > nops)
      return r.fail(p, "covers ops [" + std::to_string(f.first) + ", " +
                           std::to_string(f.first + f.count) + "), which is not a run of the " +
                           std::to_string(nops) + " ops after the previous group");
    for (; marked < f.first; ++marked)
      for (int64_t v : graph.ops[marked].results)
        mark(v);
    std::vector<int64_t> produced;
    for (int64_t k = f.first; k < f.first + f.count; ++k) {
      const OpNode &op = graph.ops[k];
      if (!expcontract::findStepOp(op.op)->elementwise)
        return r.fail(p, "includes `" + op.op + "` (op " + std::to_string(k) +
                             "), which is not elementwise");
      produced.insert(produced.end(), op.results.begin(), op.results.end());
    }
    auto inside = [&](int64_t v) {
      return std::find(produced.begin(), produced.end(), v) != produced.end();
    };
    for (int64_t v : f.inputs)
      if (v < 0 || v >= graph.valueCount || !before[v])
        return r.fail(p + ".inputs", "lists value " + std::to_string(v) +
                                         ", which is not computed before the group");
    for (int64_t k = f.first; k < f.first + f.count; ++k)
      for (int64_t v : graph.ops[k].operands)
        if (!inside(v) && std::find(f.inputs.begin(), f.inputs.end(), v) == f.inputs.end())
          return r.fail(p, "op " + std::to_string(k) + " reads value " + std::to_string(v) +
                               ", which is neither an input of the group nor computed in it");
    for (int64_t v : f.outputs)
      if (!inside(v))
        return r.fail(p + ".outputs", "lists value " + std::to_string(v) +
                                          ", which the group's ops do not compute");
    // A fused group computes only its outputs: whatever reads its values later must read those.
    auto listed = [&](int64_t v) {
      return !inside(v) || std::find(f.outputs.begin(), f.outputs.end(), v) != f.outputs.end();
    };
    for (int64_t k = f.first + f.count; k < nops; ++k)
      for (int64_t v : graph.ops[k].operands)
        if (!listed(v))
          return r.fail(p + ".outputs", "omits value " + std::to_string(v) + ", which op " +
                                            std::to_string(k) + " reads after the group");
    for (int64_t v : graph.outputs)
      if (!listed(v))
        return r.fail(p + ".outputs", "omits value " + std::to_string(v) + ", a result of the graph");
    end = f.first + f.count;
    graph.fusions.push_back(std::move(f));
  }
}

void readGraph(Reader &r, const std::string &name, const json &g, Graph &graph) {
  std::string path = "graphs." + name;
  graph.name = name;
  graph.json = g.dump();
  r.get(g, path, "value_count", graph.valueCount);
  const json *inputs = r.field(g, path, "inputs");
  const json *ops = r.field(g, path, "ops");
  if (!inputs || !ops || !inputs->is_array() || !ops->is_array()) {
    r.fail(path, "needs `inputs` and `ops` arrays");
    return;
  }
  for (size_t i = 0; i < inputs->size(); ++i) {
    std::string p = path + ".inputs[" + std::to_string(i) + "]";
    GraphInput in;
    const json &x = (*inputs)[i];
    r.get(x, p, "id", in.id);
    if (x.is_object() && x.contains("features")) {
      r.get(x["features"], p + ".features", "graph", in.features);
      r.get(x["features"], p + ".features", "output", in.output);
      in.binding = "features:" + in.features + "/" + std::to_string(in.output);
    } else {
      r.get(x, p, "column", in.column);
      r.get(x, p, "classes", in.classes, false);
      r.get(x, p, "view", in.view, false);
      in.binding = in.view > 0 ? in.column + "@view" + std::to_string(in.view) : in.column;
      if (x.contains("side")) { // side information: how the runtime featurises it
        in.side = x["side"];
        std::string kind, key;
        r.get(in.side, p + ".side", "kind", kind);
        r.get(in.side, p + ".side", "key", key);
        if (r.ok() && (!in.side.contains("params") || !in.side["params"].is_object()))
          r.fail(p + ".side", "needs a `params` object");
      }
    }
    r.get((*inputs)[i], p, "shape", in.shape);
    r.get((*inputs)[i], p, "dtype", in.dtype);
    graph.inputs.push_back(std::move(in));
  }
  for (size_t i = 0; i < ops->size() && r.ok(); ++i) {
    std::string p = path + ".ops[" + std::to_string(i) + "]";
    const json &o = (*ops)[i];
    OpNode node;
    r.get(o, p, "op", node.op);
    r.get(o, p, "operands", node.operands);
    r.get(o, p, "results", node.results);
    r.get(o, p, "loc", node.loc, false);
    if (const json *attrs = r.field(o, p, "attrs"))
      readAttrs(r, *attrs, p + ".attrs", node.attrs);
    if (!r.ok())
      return;
    // The op as the plan contract declares it; which kernel runs it is the
    // executor's to say (exec/Kernels.h, bindKernels).
    const expcontract::StepOpInfo *info = expcontract::findStepOp(node.op);
    if (!info)
      return r.fail(p,
                    "uses op `" + node.op + "`" + (node.loc.empty() ? "" : " (from " + node.loc + ")") +
                        ", which this runtime has no kernel for; use a runtime that matches the compiler",
                    ErrorKind::PlanUnsupported);
    if ((!info->variadic && node.operands.size() != static_cast<size_t>(info->operands)) ||
        node.results.size() != 1)
      return r.fail(p, "gives `" + node.op + "` " + std::to_string(node.operands.size()) +
                           " operands and " + std::to_string(node.results.size()) + " results");
    for (int64_t v : node.operands)
      if (v < 0 || v >= graph.valueCount)
        return r.fail(p, "refers to value " + std::to_string(v) + ", outside the graph", ErrorKind::PlanReference);
    graph.ops.push_back(std::move(node));
  }
  r.get(g, path, "outputs", graph.outputs);
  for (int64_t v : graph.outputs)
    if (v < 0 || v >= graph.valueCount)
      r.fail(path + ".outputs", "refers to value " + std::to_string(v) + ", outside the graph",
             ErrorKind::PlanReference);
  if (const json *fusions = r.field(g, path, "fusions", false); fusions && r.ok())
    readFusions(r, *fusions, path + ".fusions", graph);
}


// Everything a plan names exists, and precomputed graphs are sound to run
// once: they read columns and frozen parameters only.
Status checkReferences(const Plan &plan, const std::string &origin) {
  std::map<std::string, const ParameterSpec *> specs;
  for (const ParameterSpec &p : plan.parameters)
    specs[p.name] = &p;
  for (const auto &[name, g] : plan.graphs)
    for (const OpNode &op : g.ops)
      if (op.op == "param" && !specs.count(op.attrs.parameter))
        return Status::error(ErrorKind::PlanReference, origin + ": graph `" + name + "` reads parameter `" +
                             op.attrs.parameter + "`, which the plan does not declare");
  if (!plan.graphs.count(plan.train.graph))
    return Status::error(ErrorKind::PlanReference, origin + ": `train.graph` names `" + plan.train.graph +
                         "`, which is not among the plan's graphs");
  for (const EvalSpec &e : plan.evaluations)
    for (const std::string &g : e.graphs)
      if (!plan.graphs.count(g))
        return Status::error(ErrorKind::PlanReference, origin + ": evaluation `" + e.name + "` names graph `" + g +
                             "`, which is not among the plan's graphs");
  for (const std::string &name : plan.precompute) {
    auto it = plan.graphs.find(name);
    if (it == plan.graphs.end())
      return Status::error(ErrorKind::PlanReference, origin + ": `precompute` names graph `" + name +
                           "`, which is not among the plan's graphs");
    for (const GraphInput &in : it->second.inputs)
      if (in.column.empty())
        return Status::error(ErrorKind::PlanReference, origin + ": precomputed graph `" + name +
                             "` must read dataset columns only");
    for (const OpNode &op : it->second.ops)
      if ((op.op == "param" && !specs.at(op.attrs.parameter)->frozen) || op.op == "dropout")
        return Status::error(ErrorKind::PlanReference, origin + ": precomputed graph `" + name + "` " +
                             (op.op == "dropout" ? std::string("draws random numbers")
                                                 : "reads trainable parameter `" +
                                                       op.attrs.parameter + "`") +
                             "; it cannot be computed once");
  }
  for (const auto &[name, g] : plan.graphs)
    for (const GraphInput &in : g.inputs) {
      if (in.features.empty())
        continue;
      auto src = plan.graphs.find(in.features);
      if (src == plan.graphs.end() ||
          std::find(plan.precompute.begin(), plan.precompute.end(), in.features) ==
              plan.precompute.end())
        return Status::error(ErrorKind::PlanReference, origin + ": graph `" + name + "` reads features of `" + in.features +
                             "`, which the plan does not precompute");
      if (in.output < 0 || in.output >= static_cast<int64_t>(src->second.outputs.size()))
        return Status::error(ErrorKind::PlanReference, origin + ": graph `" + name + "` reads output " +
                             std::to_string(in.output) + " of `" + in.features + "`, which has " +
                             std::to_string(src->second.outputs.size()));
    }
  // recall_at's candidates are computed per class, not per dataset row.
  for (const EvalSpec &e : plan.evaluations)
    if (e.metric == "recall_at" && e.graphs.size() == 2)
      for (const GraphInput &in : plan.graphs.at(e.graphs[1]).inputs)
        if (in.column.empty())
          return Status::error(ErrorKind::PlanReference, origin + ": evaluation `" + e.name + "` computes candidates with `" +
                               e.graphs[1] + "`, which reads precomputed features; candidates "
                               "are per class, not per dataset row");
  return Status::ok();
}
// The `data` section: the source, its selections, augmentations and splits.
void readData(Reader &r, const json &dj, Plan &plan) {
  const json *d = &dj;
  r.get(*d, "data", "name", plan.dataName);
  r.get(*d, "data", "kind", plan.dataKind);
  if (const json *p = r.field(*d, "data", "params"))
    plan.dataParams = *p;
  r.get(*d, "data", "val_fraction", plan.valFraction, false);
  r.get(*d, "data", "bag", plan.bag, false);
  if (r.ok() && plan.bag < 1)
    r.fail("data.bag", "must be >= 1");
  if (r.ok() && !(plan.valFraction >= 0 && plan.valFraction <= 0.5))
    r.fail("data.val_fraction", "must be in [0, 0.5]");
  for (const char *key : {"hold_out", "keep", "drop"}) {
    const json *sel = r.field(*d, "data", key, /*required=*/false);
    if (!sel || !r.ok())
      continue;
    bool good = sel->is_object();
    for (auto it = sel->begin(); good && it != sel->end(); ++it) {
      good = it->is_array() && !it->empty();
      for (const json &v : good ? *it : json::array())
        if (v.is_string())
          plan.select[key][it.key()].push_back(v.get<std::string>());
        else
          good = false;
    }
    if (!good)
      r.fail(std::string("data.") + key, "must map columns to non-empty lists of strings");
  }
  if (const json *h = r.field(*d, "data", "hold_out_fraction", /*required=*/false)) {
    r.get(*h, "data.hold_out_fraction", "fraction", plan.holdOutFraction);
    r.get(*h, "data.hold_out_fraction", "by", plan.holdOutBy);
    r.get(*h, "data.hold_out_fraction", "stratify", plan.holdOutStratify);
    if (r.ok() && !(plan.holdOutFraction > 0 && plan.holdOutFraction <= 0.9))
      r.fail("data.hold_out_fraction.fraction", "must be in (0, 0.9]");
    if (r.ok() && plan.select.count("hold_out"))
      r.fail("data.hold_out_fraction", "cannot be combined with data.hold_out");
  }
  if (const json *a = r.field(*d, "data", "augment", /*required=*/false)) {
    AugmentSpec &aug = plan.augment;
    r.get(*a, "data.augment", "crop", aug.crop, false);
    r.get(*a, "data.augment", "flip", aug.flip, false);
    r.get(*a, "data.augment", "rot90", aug.rot90, false);
    r.get(*a, "data.augment", "intensity", aug.intensity, false);
    if (r.ok() && !(aug.crop >= 0.08 && aug.crop <= 1))
      r.fail("data.augment.crop", "must be in [0.08, 1]");
    if (r.ok() && !(aug.intensity >= 0 && aug.intensity <= 1))
      r.fail("data.augment.intensity", "must be in [0, 1]");
    for (auto it = a->begin(); a->is_object() && it != a->end() && r.ok(); ++it)
      if (it.key() != "crop" && it.key() != "flip" && it.key() != "rot90" &&
          it.key() != "intensity")
        r.fail("data.augment." + it.key(), "is not an augmentation this runtime knows", ErrorKind::PlanUnsupported);
  }
}

// The `parameters` section.
void readParameters(Reader &r, const json &doc, Plan &plan) {
  if (const json *ps = r.field(doc, "", "parameters")) {
    for (size_t i = 0; ps->is_array() && i < ps->size(); ++i) {
      std::string p = "parameters[" + std::to_string(i) + "]";
      ParameterSpec spec;
      r.get((*ps)[i], p, "name", spec.name);
      r.get((*ps)[i], p, "shape", spec.shape);
      r.get((*ps)[i], p, "init", spec.init);
      r.get((*ps)[i], p, "scale", spec.scale);
      r.get((*ps)[i], p, "decay", spec.decay);
      r.get((*ps)[i], p, "frozen", spec.frozen, false);
      if ((*ps)[i].contains("weights")) {
        r.get((*ps)[i]["weights"], p + ".weights", "file", spec.weightsFile);
        r.get((*ps)[i]["weights"], p + ".weights", "name", spec.weightsName);
      }
      double max = 0;
      if ((*ps)[i].contains("max") && r.get((*ps)[i], p, "max", max))
        spec.max = max;
      plan.parameters.push_back(std::move(spec));
    }
  }
}

// The `train` section: the loop's settings, the optimiser and the schedule.
void readTrain(Reader &r, const json &tj, Plan &plan) {
  const json *t = &tj;
  r.get(*t, "train", "name", plan.train.name);
  r.get(*t, "train", "graph", plan.train.graph);
  r.get(*t, "train", "epochs", plan.train.epochs);
  r.get(*t, "train", "batch", plan.train.batch);
  r.get(*t, "train", "seed", plan.train.seed);
  r.get(*t, "train", "steps", plan.train.steps, false);
  r.get(*t, "train", "accumulate", plan.train.accumulate, false);
  r.get(*t, "train", "clip_grad_norm", plan.train.clipGradNorm, false);
  r.get(*t, "train", "precision", plan.train.precision, false);
  r.get(*t, "train", "deterministic", plan.train.deterministic, false);
  r.get(*t, "train", "early_stop_patience", plan.train.earlyStopPatience, false);
  if (r.ok() && plan.train.earlyStopPatience < 0)
    r.fail("train.early_stop_patience", "must be >= 0");
  // The optimiser is required; the other settings default to the `train`
  // block's defaults.
  auto kindAndParams = [&](const char *key, std::string &kind, json &params,
                           std::initializer_list<const char *> known, bool required) {
    const json *o = r.field(*t, "train", key, required);
    if (!o)
      return;
    std::string path = std::string("train.") + key;
    if (r.get(*o, path, "kind", kind) &&
        std::none_of(known.begin(), known.end(), [&](const char *k) { return kind == k; }))
      r.fail(path + ".kind", "names an unknown " + std::string(key) + " `" + kind + "`", ErrorKind::PlanUnsupported);
    if (const json *p = r.field(*o, path, "params")) {
      if (!p->is_object())
        r.fail(path + ".params", "expected an object");
      params = *p;
    }
  };
  kindAndParams("optimizer", plan.train.optimizer, plan.train.optimizerParams,
                {"adamw", "sgd", "lamb"}, true);
  kindAndParams("schedule", plan.train.schedule, plan.train.scheduleParams,
                {"constant_lr", "warmup_cosine", "one_cycle", "reduce_on_plateau"}, false);
  if (plan.train.precision != "fp32" && plan.train.precision != "bf16")
    r.fail("train.precision", "must be `fp32` or `bf16`");
  if (plan.train.epochs < 1 || plan.train.batch < 1 || plan.train.steps < 0 ||
      plan.train.accumulate < 1 || !(plan.train.clipGradNorm >= 0))
    r.fail("train", "needs epochs, batch, accumulate >= 1 and steps, clip_grad_norm >= 0");
}

// The `evaluations` and `precompute` sections.
void readEvaluations(Reader &r, const json &doc, Plan &plan) {
  if (const json *es = r.field(doc, "", "evaluations")) {
    for (size_t i = 0; es->is_array() && i < es->size(); ++i) {
      std::string p = "evaluations[" + std::to_string(i) + "]";
      EvalSpec e;
      r.get((*es)[i], p, "name", e.name);
      r.get((*es)[i], p, "metric", e.metric);
      r.get((*es)[i], p, "graphs", e.graphs);
      if (const json *o = r.field((*es)[i], p, "options"))
        e.options = *o;
      plan.evaluations.push_back(std::move(e));
    }
  }
  if (const json *ps = r.field(doc, "", "precompute", /*required=*/false)) {
    for (size_t i = 0; ps->is_array() && i < ps->size(); ++i) {
      std::string g;
      if (r.get((*ps)[i], "precompute[" + std::to_string(i) + "]", "graph", g))
        plan.precompute.push_back(g);
    }
  }
}

} // namespace

double numberOr(const nlohmann::json &params, const char *name, double fallback) {
  auto it = params.find(name);
  return it != params.end() && it->is_number() ? it->get<double>() : fallback;
}

std::string specPath(const Plan &plan, const std::string &path) {
  std::filesystem::path p(path);
  return (p.is_absolute() ? p : std::filesystem::path(plan.sourcePath).parent_path() / p)
      .lexically_normal()
      .string();
}

// Every kernel a group names, and its _grad, is an entry of the plan's PTX:
// a CUDA runtime could not launch it otherwise, and a CPU one refuses the
// plan too, so a damaged plan fails where it is checked, not where it is
// carried.
static Status checkKernels(const Plan &plan, const std::string &origin) {
  for (const auto &[name, g] : plan.graphs)
    for (size_t i = 0; i < g.fusions.size(); ++i) {
      const std::string &k = g.fusions[i].kernel;
      if (k.empty())
        continue;
      std::string where = origin + ": graphs." + name + ".fusions[" + std::to_string(i) + "]";
      if (plan.gpu.ptx.empty())
        return Status::error(ErrorKind::PlanKernels, where + " names kernel `" + k + "`, but the plan has no `gpu` PTX");
      for (const std::string &entry : {k, k + "_grad"})
        if (plan.gpu.ptx.find(".entry " + entry + "(") == std::string::npos)
          return Status::error(ErrorKind::PlanKernels, where + " names kernel `" + entry +
                               "`, which is not an entry of the plan's PTX");
    }
  return Status::ok();
}

bool planReadsAttribute(std::string_view name) {
  for (const auto &entry : kAttrReaders)
    if (entry.first == name)
      return true;
  return false;
}

Status readPlan(const std::string &text, const std::string &origin, Plan &plan) {
  plan = Plan();
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error &e) {
    return Status::error(ErrorKind::PlanUnreadable, origin + ": not a valid plan: invalid JSON at byte " +
                         std::to_string(e.byte) + " (a truncated or corrupt file?)");
  } catch (const json::out_of_range &) { // a number past double's range (fuzz campaign, issue 31)
    return Status::error(ErrorKind::PlanUnreadable, origin + ": not a valid plan: a number out of range "
                         "(a corrupt file?)");
  }
  plan.sha256 = Sha256().update(text).hex();
  Reader r(origin);
  std::string format;
  if (!r.get(doc, "", "format", format) || format != "exp-plan")
    return Status::error(ErrorKind::PlanInvalid, origin + ": not an exp plan (its `format` is not \"exp-plan\")");
  if (!r.get(doc, "", "format_version", plan.formatVersion))
    return r.status();
  if (plan.formatVersion != kPlanFormatVersion)
    return Status::error(ErrorKind::PlanVersion, origin + ": plan format version " + std::to_string(plan.formatVersion) +
                         " is not supported; this runtime reads version " +
                         std::to_string(kPlanFormatVersion) +
                         ". Recompile the experiment with a matching `exp`");
  if (const json *c = r.field(doc, "", "compiler"))
    r.get(*c, "compiler", "build_id", plan.buildId);
  if (const json *s = r.field(doc, "", "source")) {
    r.get(*s, "source", "path", plan.sourcePath);
    r.get(*s, "source", "sha256", plan.sourceSha256);
  }
  r.get(doc, "", "target", plan.target);
  if (const json *g = r.field(doc, "", "gpu", false)) {
    r.get(*g, "gpu", "arch", plan.gpu.arch);
    r.get(*g, "gpu", "block", plan.gpu.block);
    r.get(*g, "gpu", "ptx", plan.gpu.ptx);
    if (r.ok() && (plan.gpu.block < 1 || plan.gpu.block > 1024))
      r.fail("gpu.block", "is " + std::to_string(plan.gpu.block) + ", not 1 .. 1024 threads");
  }
  if (const json *d = r.field(doc, "", "data"))
    readData(r, *d, plan);
  readParameters(r, doc, plan);
  if (const json *gs = r.field(doc, "", "graphs")) {
    for (auto it = gs->begin(); it != gs->end() && r.ok(); ++it)
      readGraph(r, it.key(), it.value(), plan.graphs[it.key()]);
  }
  if (const json *t = r.field(doc, "", "train"))
    readTrain(r, *t, plan);
  readEvaluations(r, doc, plan);
  if (!r.ok())
    return r.status();
  if (Status s = checkReferences(plan, origin); !s)
    return s;
  return checkKernels(plan, origin);
}

} // namespace exprt
