// Calls: binding arguments to parameters, then applying a network or extern.
//
// A network (or an `extern encoder`) called with its configuration only gives
// an encoder; called with its data inputs it gives its output. Arguments are
// checked against parameter types and constraints; shape variables unify across
// arguments; parameters used as shape variables and not given are inferred
// from the inputs (`ViT(...)` learns `channels` from the images it is applied
// to unless told).
#include "sema/Sema.h"

#include "sema/Env.h"

#include <algorithm>

namespace expc {

using ast::Decl;
using ast::Param;

bool Sema::isInputParam(const Param &p) const { return isDataType(*p.type); }

// An encoder value: the network or extern with the configuration in `env`.
std::shared_ptr<Val> Sema::makeEncoder(const Decl &callee, int module, SourceRange where,
                                       const Env &env) const {
  auto enc = std::make_shared<Val>();
  enc->kind = VK::Encoder;
  enc->decl = &callee;
  enc->module = module;
  enc->origin = where;
  for (const Param &p : callee.params)
    if (!isInputParam(p))
      if (ValPtr v = env.find(p.name))
        enc->args[p.name] = v;
  return enc;
}

bool Sema::bindArgs(const Decl &callee, const std::vector<Arg> &args, bool settings, Bound &out,
                    const std::map<std::string, ValPtr> *prebound) {
  std::vector<std::string> names;
  for (const Param &p : callee.params)
    names.push_back(p.name);
  // Blocks are named by their declaration keyword: `train has no setting ...`.
  std::string calleeName = callee.name;
  if (settings && calleeName.size() > 9 && calleeName.compare(calleeName.size() - 9, 9, "_settings") == 0)
    calleeName.resize(calleeName.size() - 9);
  bool ok = true, sawNamed = false;
  size_t next = 0; // next parameter a positional argument may fill
  for (const Arg &a : args) {
    std::string name = a.name;
    if (name.empty()) {
      if (sawNamed) {
        diags_.emit(diag::PositionalAfterNamed, a.range);
        ok = false;
        continue;
      }
      while (next < callee.params.size() &&
             (out.args.count(callee.params[next].name) ||
              (prebound && prebound->count(callee.params[next].name))))
        ++next;
      if (next >= callee.params.size()) {
        diags_.emit(diag::TooManyArguments, a.range, callee.name, int64_t(callee.params.size()),
                    int64_t(args.size()));
        ok = false;
        continue;
      }
      name = callee.params[next++].name;
    } else {
      sawNamed = true;
      if (std::find(names.begin(), names.end(), name) == names.end()) {
        auto d = settings ? diags_.emit(diag::UnknownSetting, a.nameRange, calleeName, name)
                          : diags_.emit(diag::UnknownArgument, a.nameRange, calleeName, name);
        std::string guess = closestMatch(name, names);
        if (!guess.empty())
          d.help(fmt::format("did you mean `{}`?", guess)).fixit(a.nameRange, guess);
        else
          d.help(fmt::format("`{}` takes `{}`", calleeName, fmt::join(names, "`, `")));
        ok = false;
        continue;
      }
    }
    if (out.args.count(name) || (prebound && prebound->count(name))) {
      auto d = settings ? diags_.emit(diag::DuplicateSetting, a.nameRange.valid() ? a.nameRange : a.range, name)
                        : diags_.emit(diag::DuplicateArgument, a.nameRange.valid() ? a.nameRange : a.range, name);
      SourceRange first = out.args.count(name) ? out.ranges[name] : prebound->at(name)->origin;
      d.note(diag::ValueComesFrom, first, "the first value");
      ok = false;
      continue;
    }
    out.args[name] = a.value;
    out.ranges[name] = a.range;
  }
  return ok;
}

struct Sema::Call {
  const Decl &callee;
  int module;
  Bound bound;
  SourceRange where;
  ValPtr encoder;
  bool isNetwork, encoderLike, isBlock;
  const Sema &sema;
  // How a parameter is named in messages, and where it was given.
  std::string what(const Param &p) const {
    if (isBlock)
      return fmt::format("setting `{}`", p.name);
    if (encoder && encoder->named && sema.isInputParam(p))
      return fmt::format("encoder `{}`", encoder->named->name);
    return fmt::format("argument `{}` of `{}`", p.name, callee.name);
  }
  SourceRange at(const Param &p) const {
    auto it = bound.ranges.find(p.name);
    return it != bound.ranges.end() && it->second.valid() ? it->second : where;
  }
};

// 1. Configuration given explicitly. Out of range is reported but the value
// stays usable, so checking goes on (channels, widths) and one run reports
// every error.
bool Sema::bindConfiguration(Call &c, Env &env) {
  bool ok = true;
  for (const Param &p : c.callee.params) {
    auto it = c.bound.args.find(p.name);
    if (it == c.bound.args.end() || isInputParam(p))
      continue;
    ValPtr v;
    bool allowNone = p.value && p.value->kind == ast::ExprKind::None;
    if (it->second->kind == VK::None && allowNone) {
      env.vars[p.name] = it->second;
      continue;
    }
    if (!checkValue(*p.type, it->second, env, c.module, c.what(p), c.at(p), v)) {
      ok = false;
      continue;
    }
    checkConstraint(p, v, env, c.module, c.what(p), c.at(p));
    env.vars[p.name] = v;
    env.boundBy[p.name] = {fmt::format("argument `{}` of `{}`", p.name, c.callee.name), c.at(p)};
  }
  return ok;
}

// 2. Data inputs: match their shapes, binding shape variables; `lead` gets
// the dimensions an encoder or layer is mapped over (bags, channels).
bool Sema::bindInputs(Call &c, Env &env, std::vector<int64_t> &lead) {
  bool ok = true;
  const bool mapsOverBags = c.encoderLike || c.callee.externKind == "layer";
  for (const Param &p : c.callee.params) {
    auto it = c.bound.args.find(p.name);
    if (it == c.bound.args.end() || !isInputParam(p))
      continue;
    if (it->second->kind == VK::None && p.value && p.value->kind == ast::ExprKind::None) {
      env.vars[p.name] = it->second;
      continue;
    }
    env.matching = c.what(p);
    if (!matchData(*p.type, *it->second, env, c.module, mapsOverBags ? &lead : nullptr, c.what(p), c.at(p)))
      ok = false;
    else
      env.vars[p.name] = refineClasses(*p.type, it->second, env, c.module);
  }
  return ok;
}

// 3. Missing parameters: inferred from shapes, defaulted, or an error.
bool Sema::bindMissing(Call &c, Env &env) {
  bool ok = true;
  for (const Param &p : c.callee.params) {
    if (c.bound.args.count(p.name))
      continue;
    if (ValPtr inferred = env.find(p.name)) {
      checkConstraint(p, inferred, env, c.module, c.what(p), c.where);
      continue;
    }
    if (p.value) {
      ValPtr d = eval(*p.value, &env, c.module), v;
      if (d->kind == VK::None || (isInputParam(p) && d->isError())) {
        env.vars[p.name] = makeNone(p.value->range);
        continue;
      }
      if (!checkValue(*p.type, d, env, c.module, c.what(p), p.value->range, v)) {
        ok = false;
        continue;
      }
      env.vars[p.name] = v;
      continue;
    }
    if (c.isBlock)
      diags_.emit(diag::MissingSetting, c.where, c.callee.name.substr(0, c.callee.name.rfind("_settings")),
                  p.name);
    else
      diags_.emit(diag::MissingArgument, c.where, c.callee.name, p.name);
    ok = false;
  }
  return ok;
}

// Inputs from datasets must come from one dataset and split; `rows` is it
// (null when no input is per-row data).
bool Sema::sameRows(Call &c, const Env &env, const Val *&rows) {
  rows = nullptr;
  for (const Param &p : c.callee.params) {
    ValPtr v = env.find(p.name);
    if (!v || v->kind != VK::Data || !v->dataset || !v->perRow)
      continue;
    if (!rows) {
      rows = v.get();
    } else if (rows->dataset != v->dataset || rows->split != v->split) {
      auto name = [](const Val *x) {
        return x->split == "held_out" ? x->dataset->decl->name + ".held_out" : x->dataset->decl->name;
      };
      diags_.emit(diag::MixedDatasets, c.where, fmt::format("`{}`", c.callee.name), name(rows), name(v.get()))
          .help("pair data from the same rows; use one dataset (or split) on both sides");
      return false;
    }
  }
  return true;
}

// 4. The result: a network's body instantiated (and its output checked
// against the declared result), or an extern's declared result type.
ValPtr Sema::callResult(Call &c, Env &env, const std::vector<int64_t> &lead,
                        std::shared_ptr<const NetGraph> &graph) {
  if (!c.isNetwork)
    return resultType(*c.callee.result, env, c.module, lead, c.callee, c.where);
  // The body sees bare tensors: without the bag dims it is mapped over and
  // without provenance (rows, producing encoder), which only the value the
  // call returns carries — so layer chains inside bodies stay flat.
  Env body;
  body.vars = env.vars;
  int input = 0;
  for (const Param &p : c.callee.params)
    if (isInputParam(p))
      if (ValPtr v = env.find(p.name); v && v->kind == VK::Data) {
        auto core = std::make_shared<Val>();
        core->kind = VK::Data;
        core->type = v->type;
        core->origin = v->origin;
        core->perRow = v->perRow;
        core->node = input++; // the body graph's input node
        core->type.dims.erase(core->type.dims.begin(), core->type.dims.begin() + lead.size());
        core->type.core = std::min(core->type.core, core->type.dims.size());
        body.vars[p.name] = core;
      }
  ValPtr out = instantiate(c.callee, c.module, body, c.where, graph);
  if (out->isError())
    return out;
  Env check = body;
  check.rest.clear();
  check.haveRest = false;
  if (!matchData(*c.callee.result, *out, check, c.module, nullptr,
                 fmt::format("the result of network `{}`", c.callee.name), c.where))
    return makeError();
  return resultType(*c.callee.result, check, c.module, lead, c.callee, c.where);
}

// The `template` arguments name columns of the call's dataset argument.
bool Sema::checkTemplates(Call &c, const Env &env, const Val *table) {
  for (const Param &p : c.callee.params) {
    ValPtr v = env.find(p.name);
    if (!v || v->kind != VK::String || p.type->kind != ast::ExprKind::Name || p.type->text != "template")
      continue;
    if (!table) {
      diags_.emit(diag::BadTemplate, c.at(p), "?", "?");
      return false;
    }
    std::vector<std::string> names;
    for (const auto &[n, t] : table->dataset->columns)
      names.push_back(n);
    for (const Placeholder &ph : templatePlaceholders(v->s)) {
      const std::string &name = ph.name;
      if (table->dataset->column(name))
        continue;
      // Point at the placeholder inside the literal (its opening quote + 1).
      SourceRange r = v->origin;
      if (r.valid() && r.beginLine == r.endLine) {
        r.beginCol += uint32_t(ph.at) + 1;
        r.endCol = r.beginCol + uint32_t(name.size()) + 2;
      }
      auto d = diags_.emit(diag::BadTemplate, r.valid() ? r : c.at(p), name, table->dataset->decl->name);
      std::string guess = closestMatch(name, names);
      if (!guess.empty())
        d.help(fmt::format("did you mean `{{{}}}`?", guess));
      else
        d.help(fmt::format("its columns are `{}`", fmt::join(names, "`, `")));
      return false;
    }
  }
  return true;
}

ValPtr Sema::apply(const Decl &callee, int calleeModule, Bound bound, SourceRange where, ValPtr encoder) {
  const bool isNetwork = callee.kind == ast::DeclKind::Network;
  Call c{callee, calleeModule, std::move(bound), where, encoder, isNetwork,
         isNetwork || callee.externKind == "encoder", callee.externKind == "block", *this};
  bool anyInput = false;
  for (const Param &p : callee.params)
    if (isInputParam(p) && c.bound.args.count(p.name) && c.bound.args[p.name]->kind != VK::None)
      anyInput = true;
  Env env;
  bool ok = bindConfiguration(c, env);
  if (c.encoderLike && !anyInput && !encoder) {
    // Configuration only: an encoder, applied to data later.
    if (!ok)
      return makeError();
    auto enc = makeEncoder(callee, calleeModule, where, env);
    if (const Val *frozen = enc->arg("frozen"); frozen && frozen->kind == VK::Bool)
      enc->trainable = !frozen->b;
    return enc;
  }
  std::vector<int64_t> lead;
  ok = bindInputs(c, env, lead) && ok;
  ok = bindMissing(c, env) && ok;
  if (!ok)
    return makeError();
  const Val *rows = nullptr;
  if (!sameRows(c, env, rows))
    return makeError();
  std::shared_ptr<const NetGraph> graph;
  ValPtr result = callResult(c, env, lead, graph);
  if (result->isError())
    return result;
  auto r = std::make_shared<Val>(*result);
  r->origin = where;
  r->decl = &callee;
  r->module = calleeModule;
  // Everything the call bound, defaults and inferred shapes included (IR
  // generation configures kernels from it).
  for (const Param &p : callee.params)
    if (ValPtr v = env.find(p.name))
      if (r->kind == VK::Object || !isInputParam(p))
        r->args[p.name] = v;
  if (r->kind == VK::Data && r->type.modality == "kgraph")
    r->perRow = false;
  if (r->kind == VK::Data)
    traceCall(callee, env, encoder, graph, *r);
  // A dataset argument gives per-row results their rows (`text(rows, ...)`),
  // and the columns `template` placeholders may name.
  const Val *table = nullptr;
  for (const Param &p : callee.params)
    if (ValPtr v = env.find(p.name); v && v->kind == VK::Dataset)
      table = v.get();
  if (!checkTemplates(c, env, table))
    return makeError();
  if (r->kind == VK::Data && !rows && table) {
    r->dataset = table->dataset;
    r->split = table->split;
  }
  if (r->kind == VK::Data && rows) {
    // Per-row data from an encoder or featuriser applied to dataset rows.
    r->dataset = rows->dataset;
    r->split = rows->split;
    if (!encoder)
      encoder = makeEncoder(callee, calleeModule, where, env);
    r->encoder = encoder;
    for (const Param &p : callee.params)
      if (isInputParam(p))
        if (ValPtr v = env.find(p.name); v && v->kind == VK::Data)
          r->inputs.emplace_back(p.name, v);
  }
  return r;
}

// Inside a network body: the call becomes a node of the body's graph, over the
// nodes of its data arguments, with every constant it bound (shape variables
// included: `linear` needs `d`, `embedding` its class count `k`). Outside
// bodies the result keeps the instantiation's graph for IR generation.
void Sema::traceCall(const Decl &callee, const Env &env, const ValPtr &encoder,
                     const std::shared_ptr<const NetGraph> &graph, Val &r) {
  r.node = -1;
  if (trace_.empty()) {
    r.graph = graph;
    return;
  }
  NetNode node;
  node.op = callee.name;
  node.callee = graph;
  const bool isNetwork = callee.kind == ast::DeclKind::Network;
  if (encoder || callee.externKind == "encoder") {
    node.kind = NetNode::Kind::Apply;
    node.encoder = encoder;
  } else {
    node.kind = isNetwork ? NetNode::Kind::Call : NetNode::Kind::Layer;
  }
  for (const Param &p : callee.params) {
    ValPtr v = env.find(p.name);
    if (v && v->kind == VK::Data && isInputParam(p))
      node.operands.push_back(v->node);
  }
  for (const auto &[name, v] : env.vars)
    if (v && v->isConstant())
      node.config[name] = v;
  trace(std::move(node), r);
}

} // namespace expc
