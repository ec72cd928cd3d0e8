#include "sema/Sema.h"

#include <algorithm>
#include <cmath>

namespace expc {

using ast::Decl;
using ast::DeclKind;
using ast::Expr;
using ast::ExprKind;

static const Value kNone;

const Value &BoundCall::value(const std::string &param) const {
  int i = builtin ? builtin->paramIndex(param) : -1;
  return i < 0 || i >= int(values.size()) ? kNone : values[i];
}
const ast::Expr *BoundCall::arg(const std::string &param) const {
  int i = builtin ? builtin->paramIndex(param) : -1;
  return i < 0 || i >= int(args.size()) ? nullptr : args[i];
}
SourceRange BoundCall::range(const std::string &param) const {
  int i = builtin ? builtin->paramIndex(param) : -1;
  return i < 0 || i >= int(ranges.size()) ? SourceRange{} : ranges[i];
}

std::vector<std::pair<std::string, Type>> datasetColumns(const BoundCall &source) {
  if (!source.builtin || std::string(source.builtin->name) != "simulated_screen")
    return {};
  int64_t size = source.value("image_size").i;
  return {{"image", Type::images(source.value("channels").i, size, size)},
          {"perturbation", Type::labels(source.value("perturbations").i + 1)},
          {"plate", Type::labels(source.value("plates").i)}};
}

Sema::Sema(const ast::Module &module, const SourceManager &sources,
           DiagnosticEngine &diags)
    : module_(module), sources_(sources), diags_(diags) {}

const ExprInfo &Sema::info(const Expr &e) const { return exprInfo_.at(&e); }
const DeclInfo &Sema::info(const Decl &d) const { return declInfo_.at(&d); }
const BoundCall *Sema::boundCall(const Expr &call) const {
  auto it = calls_.find(&call);
  return it == calls_.end() ? nullptr : &it->second;
}

bool Sema::check() {
  unsigned before = diags_.errorCount();
  checkImports();
  collectDecls();
  for (const Decl &d : module_.decls)
    checkDecl(d);
  return diags_.errorCount() == before;
}

void Sema::checkImports() {
  std::vector<std::string> mods = stdModules();
  for (const ast::Import &imp : module_.imports) {
    std::string name = imp.dotted();
    if (name == "std") {
      importedModules_.insert(mods.begin(), mods.end());
      continue;
    }
    if (std::find(mods.begin(), mods.end(), name) != mods.end()) {
      importedModules_.insert(name);
      continue;
    }
    std::vector<std::string> all = mods;
    all.push_back("std");
    auto d = diags_.emit(diag::UnknownModule, imp.range, name);
    std::string guess = closestMatch(name, all);
    if (!guess.empty())
      d.help(fmt::format("did you mean `{}`?", guess));
    else
      d.help(fmt::format("the standard library has `std` and its modules `{}`",
                         fmt::join(mods, "`, `")));
  }
}

void Sema::collectDecls() {
  for (const Decl &d : module_.decls) {
    auto [it, inserted] = decls_.emplace(d.name, &d);
    if (!inserted) {
      diags_.emit(diag::Redefinition, d.nameRange, d.name)
          .note(diag::PreviousDefinition, it->second->nameRange, d.name);
    }
    if (d.kind == DeclKind::Train) {
      if (train_)
        diags_.emit(diag::DuplicateTrain, d.keywordRange)
            .note(diag::PreviousDefinition, train_->nameRange, train_->name);
      else
        train_ = &d;
    }
  }
}

const DeclInfo &Sema::checkDecl(const Decl &d) {
  DeclInfo &info = declInfo_[&d];
  if (info.state == DeclInfo::State::Done)
    return info;
  if (info.state == DeclInfo::State::InProgress) {
    diags_.emit(diag::CyclicDefinition, d.nameRange, d.name);
    info.type = Type();
    return info;
  }
  info.state = DeclInfo::State::InProgress;
  switch (d.kind) {
  case DeclKind::Dataset:
    checkDataset(d, info);
    break;
  case DeclKind::Encoder:
    checkEncoder(d, info);
    break;
  case DeclKind::Objective: {
    rejectSettings(d);
    if (!d.value) {
      diags_.emit(diag::WrongDeclValue, d.nameRange, "objective", "a loss, as in `= clip(a, b)`",
                  "nothing");
      break;
    }
    Type t = checkExpr(*d.value).type;
    if (!t.isError() && t.kind != TypeKind::Loss)
      diags_.emit(diag::WrongDeclValue, d.value->range, "objective", "a loss", t.describe());
    else
      info.type = t;
    break;
  }
  case DeclKind::Train:
    checkTrain(d, info);
    break;
  case DeclKind::Evaluate:
    checkEvaluate(d, info);
    break;
  }
  // unordered_map keeps references stable, so `info` is still the entry.
  info.state = DeclInfo::State::Done;
  return info;
}

void Sema::rejectSettings(const Decl &d) {
  for (const ast::Setting &s : d.settings)
    diags_.emit(diag::UnknownSetting, s.keyRange, d.name, s.key)
        .help(fmt::format("`{}` declarations take no settings block", declKeyword(d.kind)));
}

// The stdlib function a declaration's value calls, which must be of `kind`.
const Builtin *Sema::calleeBuiltin(const Expr &call, BuiltinKind kind,
                                   const Decl &d, const char *wanted) {
  if (call.kind != ExprKind::Call || call.callee().kind != ExprKind::Name) {
    Type t = checkExpr(call).type;
    if (!t.isError())
      diags_.emit(diag::WrongDeclValue, call.range, declKeyword(d.kind), wanted, t.describe());
    return nullptr;
  }
  const ExprInfo &callee = checkExpr(call.callee());
  if (callee.type.isError())
    return nullptr;
  if (!callee.builtin || callee.builtin->kind != kind) {
    diags_.emit(diag::WrongDeclValue, call.callee().range, declKeyword(d.kind), wanted,
                callee.builtin ? fmt::format("`{}`", callee.builtin->name)
                               : callee.type.describe());
    return nullptr;
  }
  return callee.builtin;
}

std::vector<Sema::Arg> Sema::callArgs(const Expr &call) {
  std::vector<Arg> args;
  for (size_t i = 0; i < call.argCount(); ++i)
    args.push_back({call.argNames[i], call.argNameRanges[i], &call.arg(i)});
  return args;
}

bool Sema::bindDeclValue(const Decl &d, BuiltinKind kind, const char *wanted, DeclInfo &info) {
  rejectSettings(d);
  if (!d.value) {
    diags_.emit(diag::WrongDeclValue, d.nameRange, declKeyword(d.kind), wanted, "nothing");
    return false;
  }
  const Builtin *b = calleeBuiltin(*d.value, kind, d, wanted);
  if (!b)
    return false;
  info.call = bind(*b, callArgs(*d.value), d.value->range, false);
  return true;
}

void Sema::checkDataset(const Decl &d, DeclInfo &info) {
  if (!bindDeclValue(d, BuiltinKind::DatasetSource,
                     "a dataset source, as in `simulated_screen()`", info))
    return;
  info.type = Type::of(TypeKind::Dataset);
  const Value &plates = info.call.value("plates");
  const Value &holdout = info.call.value("holdout_plates");
  if (plates.kind == Value::Kind::Int && holdout.kind == Value::Kind::Int &&
      holdout.i >= plates.i) {
    SourceRange r = info.call.range("holdout_plates");
    diags_.emit(diag::OutOfRange, r.valid() ? r : d.value->range, "`holdout_plates`",
                std::to_string(holdout.i),
                fmt::format("fewer than `plates` ({}), so some plates remain for training",
                            plates.i));
  }
}

void Sema::checkEncoder(const Decl &d, DeclInfo &info) {
  if (!bindDeclValue(d, BuiltinKind::Encoder, "an encoder, as in `small_cnn(channels = 3)`", info))
    return;
  std::string name = info.call.builtin->name;
  if (name == "small_cnn")
    info.type = Type::encoder(Type::images(info.call.value("channels").i, 0, 0),
                              Type::embedding(info.call.value("dim").i));
  else if (name == "embedding_table")
    info.type = Type::encoder(Type::labels(info.call.value("classes").i),
                              Type::embedding(info.call.value("dim").i));
}

void Sema::checkTrain(const Decl &d, DeclInfo &info) {
  if (d.value)
    diags_.emit(diag::WrongDeclValue, d.value->range, "train",
                "a settings block, as in `train main { objective = ... }`", "a value");
  std::vector<Arg> args;
  for (const ast::Setting &s : d.settings)
    args.push_back({s.key, s.keyRange, s.value.get()});
  info.call = bind(trainSettings(), args, d.nameRange, true);
  info.type = Type::of(TypeKind::Dataset); // not a value; any non-error type
}

void Sema::checkEvaluate(const Decl &d, DeclInfo &info) {
  rejectSettings(d);
  if (!d.value) {
    diags_.emit(diag::WrongDeclValue, d.nameRange, "evaluate",
                "a metric, as in `= recall_at(query, candidates)`", "nothing");
    return;
  }
  const ExprInfo &e = checkExpr(*d.value);
  if (e.type.isError())
    return;
  if (e.type.kind != TypeKind::Metric) {
    diags_.emit(diag::WrongDeclValue, d.value->range, "evaluate", "a metric",
                e.type.describe());
    return;
  }
  info.type = e.type;
  info.call = calls_.at(d.value.get());
}

std::vector<std::string> Sema::visibleNames() const {
  std::vector<std::string> names;
  for (const auto &[n, d] : decls_)
    names.push_back(n);
  for (const Builtin &b : builtins())
    if (importedModules_.count(b.module))
      names.push_back(b.name);
  return names;
}

const ExprInfo &Sema::checkExpr(const Expr &e) {
  auto it = exprInfo_.find(&e);
  if (it != exprInfo_.end())
    return it->second;
  ExprInfo info;
  switch (e.kind) {
  case ExprKind::Number:
    if (e.isInteger) {
      info.type = Type::of(TypeKind::Int);
      info.constant = Value::ofInt(e.integer);
    } else {
      info.type = Type::of(TypeKind::Float);
      info.constant = Value::ofFloat(e.number);
    }
    break;
  case ExprKind::String:
    info.type = Type::of(TypeKind::String);
    info.constant = Value::ofString(e.text);
    break;
  case ExprKind::Bool:
    info.type = Type::of(TypeKind::Bool);
    info.constant = Value::ofBool(e.boolean);
    break;
  case ExprKind::List: {
    Value list;
    list.kind = Value::Kind::List;
    Type elem = Type::of(TypeKind::Int);
    bool constant = true, error = false;
    for (size_t i = 0; i < e.operands.size(); ++i) {
      const ExprInfo &item = checkExpr(*e.operands[i]);
      error |= item.type.isError();
      if (i == 0 || (elem.kind == TypeKind::Int && item.type.kind == TypeKind::Float))
        elem = item.type;
      else if (!item.type.isError() && item.type.kind != elem.kind &&
               !(elem.isNumber() && item.type.isNumber())) {
        diags_.emit(diag::TypeMismatch, e.operands[i]->range, "this list",
                    "items of one type, " + elem.describe(), item.type.describe());
        error = true;
      }
      constant &= !item.constant.isNone();
      list.list.push_back(item.constant);
    }
    info.type = error ? Type() : Type::list(elem);
    if (constant && !error)
      info.constant = list;
    break;
  }
  case ExprKind::Name:
    info = checkName(e);
    break;
  case ExprKind::Member:
    info = checkMember(e);
    break;
  case ExprKind::Call:
    info = checkCall(e);
    break;
  case ExprKind::Neg: {
    const ExprInfo &x = checkExpr(*e.operands[0]);
    if (x.type.isError())
      break;
    if (!x.type.isNumber() || x.constant.isNone()) {
      diags_.emit(diag::InvalidOperands, e.range, "-", x.type.describe(), "nothing");
      break;
    }
    info.type = x.type;
    info.constant = x.type.kind == TypeKind::Int ? Value::ofInt(-x.constant.i)
                                                 : Value::ofFloat(-x.constant.f);
    break;
  }
  case ExprKind::Binary:
    info = checkBinary(e);
    break;
  }
  return exprInfo_[&e] = std::move(info);
}

ExprInfo Sema::checkName(const Expr &e) {
  ExprInfo info;
  auto it = decls_.find(e.text);
  if (it != decls_.end()) {
    const Decl &d = *it->second;
    if (d.kind == DeclKind::Train || d.kind == DeclKind::Evaluate) {
      diags_.emit(diag::TypeMismatch, e.range, "this expression",
                  "a dataset, encoder or objective",
                  fmt::format("the `{}` declaration `{}`", declKeyword(d.kind), d.name))
          .note(diag::DeclaredHere, d.nameRange, d.name);
      return info;
    }
    const DeclInfo &di = checkDecl(d);
    info.type = di.type;
    info.decl = &d;
    if (d.kind == DeclKind::Dataset)
      info.dataset = &d;
    return info;
  }
  if (const Builtin *b = findBuiltin(e.text)) {
    if (importedModules_.count(b->module)) {
      info.type = Type::of(TypeKind::Builtin);
      info.builtin = b;
      return info;
    }
    SourceRange top{e.range.file, 1, 1, 1, 1};
    diags_.emit(diag::NotImported, e.range, e.text, b->module)
        .help(fmt::format("add `import {}` (or `import std`) at the top of the file", b->module))
        .fixit(top, fmt::format("import {}\n", b->module));
    return info;
  }
  auto d = diags_.emit(diag::UnknownName, e.range, e.text);
  std::string guess = closestMatch(e.text, visibleNames());
  if (!guess.empty()) {
    d.help(fmt::format("did you mean `{}`?", guess));
    d.fixit(e.range, guess);
    auto dit = decls_.find(guess);
    if (dit != decls_.end())
      d.note(diag::DeclaredHere, dit->second->nameRange, guess);
  }
  return info;
}

ExprInfo Sema::checkMember(const Expr &e) {
  ExprInfo info;
  const ExprInfo &base = checkExpr(*e.operands[0]);
  if (base.type.isError())
    return info;
  std::vector<std::string> members;
  if (base.type.kind == TypeKind::Dataset && base.decl) {
    for (const auto &[name, type] : datasetColumns(checkDecl(*base.decl).call)) {
      if (name == e.text) {
        info.type = type;
        info.dataset = base.decl;
        info.column = name;
        return info;
      }
      members.push_back(name);
    }
  } else if (base.type.kind == TypeKind::Images) {
    std::pair<const char *, int64_t> props[] = {
        {"channels", base.type.channels}, {"height", base.type.height}, {"width", base.type.width}};
    for (auto [name, v] : props) {
      if (e.text == name) {
        info.type = Type::of(TypeKind::Int);
        info.constant = Value::ofInt(v);
        return info;
      }
      members.push_back(name);
    }
  } else if (base.type.kind == TypeKind::Labels) {
    if (e.text == "classes") {
      info.type = Type::of(TypeKind::Int);
      info.constant = Value::ofInt(base.type.classes);
      return info;
    }
    members.push_back("classes");
  }
  std::string what = base.decl ? fmt::format("`{}`", base.decl->name) : base.type.describe();
  auto d = diags_.emit(diag::UnknownMember, e.textRange, what, e.text);
  std::string guess = closestMatch(e.text, members);
  if (!guess.empty())
    d.help(fmt::format("did you mean `{}`?", guess)).fixit(e.textRange, guess);
  else if (!members.empty())
    d.help(fmt::format("its members are `{}`", fmt::join(members, "`, `")));
  return info;
}

ExprInfo Sema::checkCall(const Expr &e) {
  ExprInfo info;
  const ExprInfo &callee = checkExpr(e.callee());
  if (callee.type.isError()) {
    for (size_t i = 0; i < e.argCount(); ++i)
      checkExpr(e.arg(i));
    return info;
  }
  if (callee.type.kind == TypeKind::Encoder && callee.decl)
    return applyEncoder(e, *callee.decl);
  if (!callee.builtin) {
    diags_.emit(diag::NotCallable, e.callee().range, callee.type.describe());
    return info;
  }
  const Builtin &b = *callee.builtin;
  if (b.kind == BuiltinKind::Encoder || b.kind == BuiltinKind::DatasetSource) {
    diags_.emit(diag::Unsupported, e.range,
                fmt::format("calling `{}` inside an expression; declare it with `{} name = {}(...)`",
                            b.name, b.kind == BuiltinKind::Encoder ? "encoder" : "dataset",
                            b.name));
    return info;
  }
  BoundCall bc = bind(b, callArgs(e), e.range, false);
  info.builtin = &b;
  switch (b.kind) {
  case BuiltinKind::Objective:
    info.type = Type::of(TypeKind::Loss);
    checkObjective(e, bc);
    break;
  case BuiltinKind::Optimizer:
    info.type = Type::of(TypeKind::Optimizer);
    break;
  case BuiltinKind::Metric:
    info.type = Type::of(TypeKind::Metric);
    checkMetric(e, bc);
    break;
  default:
    break;
  }
  calls_[&e] = std::move(bc);
  return info;
}

ExprInfo Sema::applyEncoder(const Expr &call, const Decl &encoder) {
  ExprInfo info;
  const DeclInfo &enc = checkDecl(encoder);
  for (size_t i = 0; i < call.argCount(); ++i)
    checkExpr(call.arg(i));
  if (call.argCount() != 1 || !call.argNames[0].empty()) {
    diags_.emit(diag::TooManyArguments, call.range, encoder.name, int64_t(1),
                int64_t(call.argCount()))
        .help(fmt::format("apply an encoder to one column, as in `{}(data.image)`", encoder.name));
    return info;
  }
  const Expr &arg = call.arg(0);
  const ExprInfo &in = checkExpr(arg);
  if (in.type.isError() || enc.type.isError())
    return info;
  const Type &want = *enc.type.input;
  const BoundCall &params = enc.call;
  if (want.kind != in.type.kind) {
    diags_.emit(diag::ModalityMismatch, arg.range, encoder.name,
                want.kind == TypeKind::Images ? "images" : "labels", in.type.describe())
        .note(diag::DeclaredHere, encoder.nameRange, encoder.name);
    return info;
  }
  if (want.kind == TypeKind::Images) {
    if (want.channels != in.type.channels) {
      diags_.emit(diag::ChannelMismatch, arg.range, encoder.name, want.channels,
                  in.type.channels)
          .note(diag::ValueComesFrom, params.range("channels"), "the encoder's channel count");
      return info;
    }
    int64_t depth = params.value("depth").i;
    if (depth > 0 && (in.type.height >> depth) < 1) {
      diags_.emit(diag::ImageTooSmall, arg.range, encoder.name, depth, in.type.height,
                  in.type.width)
          .note(diag::ValueComesFrom, params.range("depth").valid() ? params.range("depth")
                                                                     : encoder.nameRange,
                "the depth");
      return info;
    }
  } else if (want.kind == TypeKind::Labels && want.classes != in.type.classes) {
    diags_.emit(diag::ClassMismatch, arg.range, encoder.name, want.classes, in.type.classes)
        .note(diag::ValueComesFrom, params.range("classes"), "the encoder's class count");
    return info;
  }
  info.type = *enc.type.output;
  info.encoder = &encoder;
  info.dataset = in.dataset;
  info.input = &arg;
  return info;
}

ExprInfo Sema::checkBinary(const Expr &e) {
  ExprInfo info;
  const ExprInfo &l = checkExpr(*e.operands[0]);
  const ExprInfo &r = checkExpr(*e.operands[1]);
  if (l.type.isError() || r.type.isError())
    return info;
  const std::string &op = e.text;
  if (l.type.isNumber() && r.type.isNumber() && !l.constant.isNone() && !r.constant.isNone()) {
    bool ints = l.type.kind == TypeKind::Int && r.type.kind == TypeKind::Int && op != "/";
    double a = l.constant.number(), b = r.constant.number();
    if (op == "/" && b == 0) {
      diags_.emit(diag::DivisionByZero, e.range);
      return info;
    }
    if (ints) {
      int64_t x = l.constant.i, y = r.constant.i, v = 0;
      bool overflow = op == "+"   ? __builtin_add_overflow(x, y, &v)
                      : op == "-" ? __builtin_sub_overflow(x, y, &v)
                                  : __builtin_mul_overflow(x, y, &v);
      if (overflow) {
        diags_.emit(diag::IntegerTooLarge, e.range, "result");
        return info;
      }
      info.type = Type::of(TypeKind::Int);
      info.constant = Value::ofInt(v);
    } else {
      double v = op == "+" ? a + b : op == "-" ? a - b : op == "*" ? a * b : a / b;
      info.type = Type::of(TypeKind::Float);
      info.constant = Value::ofFloat(v);
    }
    return info;
  }
  // Objectives are weighted sums of losses: loss + loss, number * loss.
  bool lossSum = (op == "+" || op == "-") && l.type.kind == TypeKind::Loss &&
                 r.type.kind == TypeKind::Loss;
  bool scaled = op == "*" && ((l.type.isNumber() && !l.constant.isNone() &&
                               r.type.kind == TypeKind::Loss) ||
                              (r.type.isNumber() && !r.constant.isNone() &&
                               l.type.kind == TypeKind::Loss));
  if (lossSum || scaled) {
    info.type = Type::of(TypeKind::Loss);
    return info;
  }
  diags_.emit(diag::InvalidOperands, e.range, op, l.type.describe(), r.type.describe());
  return info;
}

BoundCall Sema::bind(const Builtin &b, const std::vector<Arg> &args,
                     SourceRange where, bool settings) {
  BoundCall bc;
  bc.builtin = &b;
  bc.args.assign(b.params.size(), nullptr);
  bc.values.assign(b.params.size(), Value());
  bc.ranges.assign(b.params.size(), SourceRange{});
  std::vector<std::string> names;
  for (const ParamSpec &p : b.params)
    names.push_back(p.name);
  bool sawNamed = false;
  size_t positional = 0;
  for (const Arg &a : args) {
    int index = -1;
    if (a.name.empty()) {
      if (sawNamed) {
        diags_.emit(diag::PositionalAfterNamed, a.value->range);
        checkExpr(*a.value);
        continue;
      }
      if (positional >= b.params.size()) {
        diags_.emit(diag::TooManyArguments, a.value->range, b.name, int64_t(b.params.size()),
                    int64_t(positional + 1));
        checkExpr(*a.value);
        ++positional;
        continue;
      }
      index = static_cast<int>(positional++);
    } else {
      sawNamed = true;
      index = b.paramIndex(a.name);
      if (index < 0) {
        auto d = settings ? diags_.emit(diag::UnknownSetting, a.nameRange, b.name, a.name)
                          : diags_.emit(diag::UnknownArgument, a.nameRange, b.name, a.name);
        std::string guess = closestMatch(a.name, names);
        if (!guess.empty())
          d.help(fmt::format("did you mean `{}`?", guess)).fixit(a.nameRange, guess);
        else
          d.help(fmt::format("`{}` takes `{}`", b.name, fmt::join(names, "`, `")));
        checkExpr(*a.value);
        continue;
      }
      if (bc.args[index]) {
        auto d = settings ? diags_.emit(diag::DuplicateSetting, a.nameRange, a.name)
                          : diags_.emit(diag::DuplicateArgument, a.nameRange, a.name);
        d.note(diag::ValueComesFrom, bc.ranges[index], "the first value");
        checkExpr(*a.value);
        continue;
      }
    }
    const ParamSpec &p = b.params[index];
    bc.args[index] = a.value;
    bc.ranges[index] = a.name.empty() ? a.value->range : SourceRange::cover(a.nameRange, a.value->range);
    checkParam(b, p, *a.value, bc.values[index], settings);
  }
  for (size_t i = 0; i < b.params.size(); ++i) {
    if (bc.args[i])
      continue;
    if (b.params[i].required) {
      if (settings)
        diags_.emit(diag::MissingSetting, where, b.name, b.params[i].name);
      else
        diags_.emit(diag::MissingArgument, where, b.name, b.params[i].name);
    } else {
      bc.values[i] = b.params[i].def;
    }
  }
  return bc;
}

bool Sema::checkParam(const Builtin &b, const ParamSpec &p, const Expr &e,
                      Value &out, bool settings) {
  const ExprInfo &info = checkExpr(e);
  if (info.type.isError())
    return false;
  std::string what = settings ? fmt::format("setting `{}`", p.name)
                              : fmt::format("argument `{}` of `{}`", p.name, b.name);
  auto mismatch = [&](const std::string &expected) {
    diags_.emit(diag::TypeMismatch, e.range, what, expected, info.type.describe());
    return false;
  };
  auto needConstant = [&]() {
    if (!info.constant.isNone())
      return true;
    diags_.emit(diag::NotConstant, e.range, what);
    return false;
  };
  auto inRange = [&](double v, const std::string &shown, SourceRange r) {
    if (p.range.contains(v))
      return true;
    diags_.emit(diag::OutOfRange, r, what, shown, p.range.describe());
    return false;
  };
  switch (p.type) {
  case ParamType::Int:
    if (info.type.kind != TypeKind::Int)
      return mismatch("an integer");
    if (!needConstant() || !inRange(double(info.constant.i), std::to_string(info.constant.i), e.range))
      return false;
    out = info.constant;
    return true;
  case ParamType::Float:
    if (!info.type.isNumber())
      return mismatch("a number");
    if (!needConstant() ||
        !inRange(info.constant.number(), fmt::format("{}", info.constant.number()), e.range))
      return false;
    out = Value::ofFloat(info.constant.number());
    return true;
  case ParamType::Bool:
    if (info.type.kind != TypeKind::Bool)
      return mismatch("`true` or `false`");
    out = info.constant;
    return true;
  case ParamType::String:
    if (info.type.kind != TypeKind::String)
      return mismatch("a string");
    out = info.constant;
    return true;
  case ParamType::IntList: {
    if (info.type.kind != TypeKind::List ||
        (!e.operands.empty() && info.type.elem->kind != TypeKind::Int))
      return mismatch("a list of integers");
    if (!needConstant())
      return false;
    for (size_t i = 0; i < info.constant.list.size(); ++i)
      if (!inRange(double(info.constant.list[i].i), std::to_string(info.constant.list[i].i),
                   e.operands[i]->range))
        return false;
    out = info.constant;
    return true;
  }
  case ParamType::Embedding:
    if (info.type.kind != TypeKind::Embedding)
      return mismatch("an embedding, as in `encoder(data.image)`");
    return true;
  case ParamType::Column:
    if (info.type.kind != TypeKind::Labels || info.column.empty())
      return mismatch("a labels column, as in `data.perturbation`");
    out = Value::ofString(info.column);
    return true;
  case ParamType::Loss:
    if (info.type.kind != TypeKind::Loss)
      return mismatch("a loss");
    return true;
  case ParamType::Optimizer:
    if (info.type.kind != TypeKind::Optimizer)
      return mismatch("an optimizer, as in `adamw(lr = 1e-3)`");
    return true;
  }
  return false;
}

bool Sema::sameDataset(const std::string &what, const Expr &a, const Expr &b) {
  const ExprInfo &x = checkExpr(a), &y = checkExpr(b);
  if (!x.dataset || !y.dataset || x.dataset == y.dataset)
    return true;
  diags_.emit(diag::MixedDatasets, SourceRange::cover(a.range, b.range), what,
              x.dataset->name, y.dataset->name);
  return false;
}

void Sema::checkObjective(const Expr &call, const BoundCall &bc) {
  const Expr *a = bc.arg("a"), *b = bc.arg("b");
  if (!a || !b)
    return;
  const ExprInfo &x = checkExpr(*a), &y = checkExpr(*b);
  if (x.type.kind != TypeKind::Embedding || y.type.kind != TypeKind::Embedding)
    return;
  if (x.type.dim != y.type.dim) {
    auto d = diags_.emit(diag::WidthMismatch, call.range, bc.builtin->name, x.type.dim,
                         y.type.dim);
    for (const ExprInfo *side : {&x, &y})
      if (side->encoder)
        d.note(diag::ValueComesFrom, checkDecl(*side->encoder).call.range("dim").valid()
                                         ? checkDecl(*side->encoder).call.range("dim")
                                         : side->encoder->nameRange,
               fmt::format("the width of `{}`", side->encoder->name));
    return;
  }
  sameDataset(fmt::format("`{}`", bc.builtin->name), *a, *b);
}

void Sema::checkMetric(const Expr &call, const BoundCall &bc) {
  std::string name = bc.builtin->name;
  auto fromImages = [&](const Expr *e, const char *param) {
    const ExprInfo &x = checkExpr(*e);
    if (!x.input || checkExpr(*x.input).type.kind != TypeKind::Images) {
      diags_.emit(diag::TypeMismatch, e->range,
                  fmt::format("argument `{}` of `{}`", param, name),
                  "an embedding of images", x.type.describe() + " of another input");
      return false;
    }
    return true;
  };
  if (name == "replicate_map") {
    const Expr *emb = bc.arg("embedding");
    const Expr *same = bc.arg("sameby");
    const Expr *diff = bc.arg("diffby");
    if (!emb || !same || !diff || checkExpr(*emb).type.kind != TypeKind::Embedding)
      return;
    if (!fromImages(emb, "embedding"))
      return;
    if (!sameDataset("`replicate_map`", *emb, *same) || !sameDataset("`replicate_map`", *emb, *diff))
      return;
    const ExprInfo &d = checkExpr(*diff);
    if (d.column == "plate" && d.dataset) {
      const BoundCall &src = checkDecl(*d.dataset).call;
      int64_t held = src.value("holdout_plates").i;
      if (held < 2)
        diags_.emit(diag::ReplicatesNeedPlates, call.range, held)
            .note(diag::ValueComesFrom,
                  src.range("holdout_plates").valid() ? src.range("holdout_plates")
                                                      : d.dataset->nameRange,
                  "the held-out plate count");
    }
  } else if (name == "recall_at") {
    const Expr *q = bc.arg("query"), *c = bc.arg("candidates");
    if (!q || !c || checkExpr(*q).type.kind != TypeKind::Embedding ||
        checkExpr(*c).type.kind != TypeKind::Embedding)
      return;
    if (!fromImages(q, "query"))
      return;
    const ExprInfo &ci = checkExpr(*c);
    if (!ci.input || checkExpr(*ci.input).column.empty() ||
        checkExpr(*ci.input).type.kind != TypeKind::Labels) {
      diags_.emit(diag::TypeMismatch, c->range, "argument `candidates` of `recall_at`",
                  "an embedding of a labels column", ci.type.describe() + " of another input");
      return;
    }
    const ExprInfo &qi = checkExpr(*q), &cw = checkExpr(*c);
    if (qi.type.dim != cw.type.dim) {
      diags_.emit(diag::WidthMismatch, call.range, name, qi.type.dim, cw.type.dim);
      return;
    }
    sameDataset("`recall_at`", *q, *c);
  }
}

} // namespace expc
