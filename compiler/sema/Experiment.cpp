// The declarations of an experiment and the checks that span them: datasets
// and their splits, side information, encoders, objectives, training and
// evaluation settings (each block bound to its schema in std.core), and split
// leakage.
#include "sema/Sema.h"

#include "sema/Env.h"

#include <algorithm>

namespace expc {

using ast::Decl;

ValPtr Sema::checkParamDecl(const Decl &d, int module) {
  const ast::Param &p = d.params[0];
  if (!p.value) {
    diags_.emit(diag::MissingParamValue, p.nameRange, p.name, p.name);
    return makeError();
  }
  Env env;
  ValPtr v = eval(*p.value, nullptr, module), out;
  std::string what = fmt::format("parameter `{}`", p.name);
  if (!checkValue(*p.type, v, env, module, what, p.value->range, out) ||
      !checkConstraint(p, out, env, module, what, p.value->range))
    return makeError();
  return out;
}

void Sema::rejectSettings(const Decl &d) {
  for (const ast::Setting &s : d.settings)
    diags_.emit(diag::UnknownSetting, s.keyRange, d.name, s.key)
        .help(fmt::format("a `{}` declaration takes no settings block; pass arguments in its call",
                          ast::declKeyword(d.kind)));
}

ValPtr Sema::bindBlock(const Decl &d, const char *block, int module) {
  const Decl *schema = coreBlock(block);
  if (!schema) {
    diags_.emit(diag::UnknownModule, d.keywordRange, "std.core")
        .help("the standard library is incomplete; set EXP_STDLIB to its directory");
    return makeError();
  }
  std::vector<Arg> args;
  bool error = false;
  for (const ast::Setting &s : d.settings) {
    Arg a;
    a.name = s.key;
    a.nameRange = s.keyRange;
    a.range = SourceRange::cover(s.keyRange, s.value->range);
    a.value = eval(*s.value, nullptr, module);
    error |= a.value->isError();
    args.push_back(std::move(a));
  }
  // Settings with errors still bind, so the others are checked too.
  Bound bound;
  bool bound_ok = bindArgs(*schema, args, true, bound);
  ValPtr v = apply(*schema, coreModule_, std::move(bound), d.nameRange);
  return bound_ok && !error ? v : makeError();
}

ValPtr Sema::externCallValue(const Decl &d, int module, const char *kind, const char *wanted) {
  if (!d.value) {
    diags_.emit(diag::WrongDeclValue, d.nameRange, ast::declKeyword(d.kind), wanted, "nothing");
    return makeError();
  }
  ValPtr v = eval(*d.value, nullptr, module);
  if (v->isError())
    return v;
  bool fromKind = v->decl && v->decl->kind == ast::DeclKind::Extern && v->decl->externKind == kind;
  if (!fromKind) {
    diags_.emit(diag::WrongDeclValue, d.value->range, ast::declKeyword(d.kind), wanted,
                v->describe());
    return makeError();
  }
  return v;
}

namespace {
// The values of one `hold_out`/`keep`/`drop` entry, as source-like strings.
std::vector<std::string> entryValues(const Val &v) {
  std::vector<std::string> out;
  if (v.kind == VK::List)
    for (const ValPtr &x : v.items)
      out.push_back(x->str());
  else
    out.push_back(v.str());
  return out;
}
} // namespace

bool Sema::readSelection(const Decl &d, DatasetInfo &info, const Val &settings, const char *key,
                         std::map<std::string, std::vector<std::string>> &out) {
  const Val *rec = settings.arg(key);
  if (!rec || rec->kind != VK::Record)
    return true;
  bool ok = true;
  std::vector<std::string> names;
  for (const auto &[n, t] : info.columns)
    names.push_back(n);
  for (size_t k = 0; k < rec->keys.size(); ++k) {
    const std::string &col = rec->keys[k];
    const DataType *t = info.column(col);
    if (!t) {
      auto diag = diags_.emit(diag::UnknownMember, rec->items[k]->origin, fmt::format("dataset `{}`", d.name), col);
      std::string guess = closestMatch(col, names);
      if (!guess.empty())
        diag.help(fmt::format("did you mean `{}`?", guess));
      else
        diag.help(fmt::format("its columns are `{}`", fmt::join(names, "`, `")));
      ok = false;
      continue;
    }
    if (t->modality != "labels") {
      diags_.emit(diag::TypeMismatch, rec->items[k]->origin, fmt::format("`{}` in setting `{}`", col, key),
                  "a labels column", t->describe());
      ok = false;
      continue;
    }
    out[col] = entryValues(*rec->items[k]);
    if (std::string(key) == "hold_out")
      info.holdOutRange[col] = rec->items[k]->origin;
  }
  return ok;
}

// split_by and stratify name a labels column (or the wells every reader has).
bool Sema::readSplitColumns(const Decl &d, DatasetInfo &info, const Val &settings) {
  bool ok = true;
  for (auto [key, slot] : {std::pair<const char *, std::string *>{"split_by", &info.splitBy},
                           {"stratify", &info.stratify}}) {
    const Val *v = settings.arg(key);
    if (!v || v->kind != VK::String || v->s.empty() || v->s == "well") {
      if (v && v->kind == VK::String)
        *slot = v->s;
      continue;
    }
    const DataType *t = info.column(v->s);
    if (!t || t->modality != "labels") {
      std::vector<std::string> labels = {"well"};
      for (const auto &[n, ct] : info.columns)
        if (ct.modality == "labels")
          labels.push_back(n);
      auto diag = diags_.emit(diag::UnknownMember, v->origin, fmt::format("dataset `{}`", d.name),
                              fmt::format("{}` labels column `{}", key, v->s));
      std::string guess = closestMatch(v->s, labels);
      diag.help(guess.empty() ? fmt::format("`{}` names one of `{}`", key, fmt::join(labels, "`, `"))
                              : fmt::format("did you mean `{}`?", guess));
      ok = false;
      continue;
    }
    *slot = v->s;
  }
  return ok;
}

// `hold_out` excludes `hold_out_fraction`, and keeps nothing it holds out.
bool Sema::checkSelections(const Decl &d, DatasetInfo &info) {
  bool ok = true;
  if (info.holdOutFraction > 0 && !info.holdOut.empty()) {
    diags_.emit(diag::HoldOutTwice, info.holdOutRange.begin()->second, d.name)
        .help("drop `hold_out_fraction`, or the `hold_out` record");
    ok = false;
  }
  for (const auto &[col, vals] : info.holdOut) {
    auto it = info.keep.find(col);
    if (it == info.keep.end())
      continue;
    for (const std::string &v : vals)
      if (std::find(it->second.begin(), it->second.end(), v) != it->second.end()) {
        diags_.emit(diag::ContradictorySplit, info.holdOutRange[col], d.name, col, v);
        ok = false;
      }
  }
  return ok;
}

ValPtr Sema::checkDataset(const Decl &d, int module) {
  ValPtr src = externCallValue(d, module, "source", "a data source, as in `rxrx1(\"data/rxrx1\")`");
  ValPtr settings = bindBlock(d, "dataset_settings", module);
  if (src->isError() || settings->isError())
    return makeError();
  auto info = std::make_unique<DatasetInfo>();
  info->decl = &d;
  info->source = src;
  int64_t bag = settings->arg("bag") ? settings->arg("bag")->i : 1;
  info->bag = bag;
  // Paired columns exist only when the source pairs its rows.
  const Val *pairing = src->arg("pairing");
  bool unpaired = pairing && pairing->kind == VK::String && pairing->s != "micon";
  for (size_t k = 0; k < src->keys.size(); ++k) {
    const std::string &name = src->keys[k];
    if (unpaired && (name == "treated1" || name == "control1" || name == "treated2" || name == "control2")) {
      info->unpaired.push_back(name);
      continue;
    }
    DataType t = src->items[k]->type;
    if (bag > 1 && (t.modality == "images" || src->keys[k] == "features"))
      t.dims.insert(t.dims.begin(), bag);
    info->columns.emplace_back(src->keys[k], t);
  }
  if (const Val *vf = settings->arg("val_fraction"))
    info->valFraction = vf->f;
  if (const Val *f = settings->arg("hold_out_fraction"))
    info->holdOutFraction = f->f;
  bool ok = readSplitColumns(d, *info, *settings);
  if (const Val *aug = settings->arg("augment"); aug && aug->kind != VK::None && aug->decl)
    info->augment = settings->args.at("augment");
  if (const Val *st = settings->arg("stages"); st && st->kind == VK::List && !st->items.empty()) {
    // Stages rewrite a table of profiles; image sources have none.
    if (!src->decl || src->decl->name != "profiles") {
      diags_.emit(diag::NotAllowedHere, st->origin, "setting `stages`",
                  fmt::format("on a dataset of `{}`", src->decl ? src->decl->name : "?"))
          .help("profile stages apply to `profiles` tables (std.profiles)");
      ok = false;
    }
    info->stages = settings->args.at("stages");
  }
  ok = readSelection(d, *info, *settings, "hold_out", info->holdOut) && ok;
  ok = readSelection(d, *info, *settings, "keep", info->keep) && ok;
  ok = readSelection(d, *info, *settings, "drop", info->drop) && ok;
  ok = checkSelections(d, *info) && ok;
  if (!ok)
    return makeError();
  auto v = std::make_shared<Val>();
  v->kind = VK::Dataset;
  v->dataset = info.get();
  v->split = "train";
  v->origin = d.nameRange;
  datasets_[&d] = std::move(info);
  return v;
}

ValPtr Sema::checkSide(const Decl &d, int module) {
  rejectSettings(d);
  ValPtr v = externCallValue(d, module, "side",
                             "side information, as in `transcriptome(\"cells.h5ad\", key = ...)`");
  if (v->isError())
    return v;
  auto named = std::make_shared<Val>(*v);
  named->side = &d;
  return named;
}

ValPtr Sema::checkEncoder(const Decl &d, int module) {
  if (!d.value) {
    diags_.emit(diag::WrongDeclValue, d.nameRange, "encoder", "a network, as in `= ViT(...)`",
                "nothing");
    return makeError();
  }
  ValPtr v = eval(*d.value, nullptr, module);
  ValPtr settings = bindBlock(d, "encoder_settings", module);
  if (v->isError() || settings->isError())
    return makeError();
  if (v->kind != VK::Encoder) {
    auto diag = diags_.emit(diag::WrongDeclValue, d.value->range, "encoder",
                            "a network with its configuration, as in `= ViT(size = \"S\")`",
                            v->describe());
    if (v->kind == VK::Data)
      diag.help("this applies the network to data; declare the network alone and apply it where "
                "it is used");
    return makeError();
  }
  auto named = std::make_shared<Val>(*v);
  named->named = &d;
  named->origin = d.nameRange;
  if (const Val *frozen = settings->arg("frozen"); frozen && frozen->b)
    named->trainable = false;
  if (const Val *w = settings->arg("weights"); w && w->kind == VK::String && !w->s.empty())
    named->args["__weights"] = std::make_shared<Val>(*w);
  return named;
}

ValPtr Sema::checkObjective(const Decl &d, int module) {
  rejectSettings(d);
  if (!d.value) {
    diags_.emit(diag::WrongDeclValue, d.nameRange, "objective", "a loss, as in `= clip(a, b)`",
                "nothing");
    return makeError();
  }
  ValPtr v = eval(*d.value, nullptr, module);
  if (v->isError())
    return v;
  if (v->kind != VK::Object || v->s != "loss") {
    diags_.emit(diag::WrongDeclValue, d.value->range, "objective", "a loss", v->describe());
    return makeError();
  }
  return v;
}

ValPtr Sema::checkTrain(const Decl &d, int module) {
  if (d.value)
    diags_.emit(diag::WrongDeclValue, d.value->range, "train", "a settings block",
                "an `= ...` value")
        .help("write `train main { objective = ...; epochs = ... }`");
  return bindBlock(d, "train_settings", module);
}

ValPtr Sema::checkEvaluate(const Decl &d, int module) {
  ValPtr v = externCallValue(d, module, "metric",
                             "an evaluation, as in `replicate_map(enc(data.image), ...)`");
  ValPtr settings = bindBlock(d, "evaluate_settings", module);
  if (v->isError() || settings->isError())
    return makeError();
  auto out = std::make_shared<Val>(*v);
  for (const auto &[k, s] : settings->args)
    out->args["__" + k] = s;
  return out;
}

ValPtr Sema::checkSweepDecl(const Decl &d, int module) {
  if (d.value)
    diags_.emit(diag::WrongDeclValue, d.value->range, "sweep", "a settings block",
                "an `= ...` value");
  return bindBlock(d, "sweep_settings", module);
}

void Sema::collectData(const ValPtr &v, std::vector<const Val *> &out,
                       std::set<const Val *> &seen) const {
  if (!v || !seen.insert(v.get()).second)
    return;
  if (v->kind == VK::Data && v->dataset)
    out.push_back(v.get());
  for (const auto &[n, in] : v->inputs)
    collectData(in, out, seen);
  for (const auto &[n, a] : v->args)
    collectData(a, out, seen);
  for (const auto &[w, t] : v->terms)
    collectData(t, out, seen);
  for (const ValPtr &x : v->items)
    collectData(x, out, seen);
}

void Sema::checkLeakage() {
  if (!train_)
    return;
  ValPtr train = value(*train_);
  std::vector<const Val *> data;
  std::set<const Val *> seen;
  collectData(train, data, seen);
  std::set<const DatasetInfo *> used;
  for (const Val *v : data) {
    used.insert(v->dataset);
    if (v->split != "held_out" && !(v->split == "all" && !v->dataset->holdOut.empty()))
      continue;
    auto d = diags_.emit(diag::LeakageHeldOut, v->origin, v->dataset->decl->name);
    for (const auto &[col, r] : v->dataset->holdOutRange)
      d.note(diag::HeldOutHere, r, col);
    d.help("train on the dataset itself (its training split); evaluate on `.held_out`");
    return;
  }
  // Early stopping watches the loss on the training dataset's validation rows.
  if (const Val *patience = train->arg("early_stop_patience"); patience && patience->i > 0)
    for (const DatasetInfo *t : used)
      if (t->valFraction <= 0) {
        diags_.emit(diag::NoValidationSplit,
                    patience->origin.valid() ? patience->origin : train_->nameRange,
                    t->decl->name)
            .help(fmt::format("keep some training rows aside in `{}`'s block, as in "
                              "`val_fraction = 0.1`", t->decl->name));
        return;
      }
  // A dataset read for training must not contain rows another declaration of
  // the same source holds out (the same screen declared twice).
  auto sameSource = [](const DatasetInfo *a, const DatasetInfo *b) {
    if (a->source->decl != b->source->decl)
      return false;
    for (const auto &[n, v] : a->source->args) {
      const Val *o = b->source->arg(n);
      if (!o || (v->isConstant() && o->str() != v->str()))
        return false;
    }
    return true;
  };
  for (const auto &[decl, held] : datasets_) {
    if (held->holdOut.empty())
      continue;
    for (const DatasetInfo *t : used) {
      if (t == held.get() || !sameSource(t, held.get()))
        continue;
      for (const auto &entry : held->holdOut) {
        const std::string &col = entry.first;
        for (const std::string &v : entry.second) {
          auto has = [&](const std::map<std::string, std::vector<std::string>> &m) {
            auto it = m.find(col);
            return it != m.end() && std::find(it->second.begin(), it->second.end(), v) != it->second.end();
          };
          bool excluded = has(t->holdOut) || has(t->drop) || (t->keep.count(col) && !has(t->keep));
          if (excluded)
            continue;
          diags_.emit(diag::LeakageSharedSource, t->decl->nameRange, t->decl->name, col, v,
                      held->decl->name)
              .note(diag::HeldOutHere, held->holdOutRange.at(col), col)
              .help(fmt::format("drop it from `{}`, as in `drop = {{ {} = {} }}`", t->decl->name,
                                col, v));
          return;
        }
      }
    }
  }
}

} // namespace expc
