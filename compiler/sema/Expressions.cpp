// Evaluation of expressions to compile-time values: constant folding, member
// access on datasets, data and records, loss arithmetic, calls, sweeps.
#include "sema/Sema.h"

#include "sema/Env.h"

#include <algorithm>
#include <cmath>

namespace expc {

using ast::Expr;
using ast::ExprKind;

namespace {

ValPtr makeList(std::vector<ValPtr> items, SourceRange at) {
  auto v = std::make_shared<Val>();
  v->kind = VK::List;
  v->items = std::move(items);
  v->origin = at;
  return v;
}

// The named extents of each modality (`image.channels`, `emb.dim`, ...).
int dimIndex(const DataType &t, const std::string &name) {
  size_t lead = t.dims.size() - t.core;
  const std::string &m = t.modality;
  if (m == "images") {
    if (name == "channels") return int(lead);
    if (name == "height") return int(lead) + 1;
    if (name == "width") return int(lead) + 2;
  } else if (m == "tokens") {
    if (name == "length") return int(lead);
    if (name == "dim") return int(lead) + 1;
  } else if (m == "vector" || m == "graph") {
    if (name == "dim") return int(lead);
  } else if (m == "labels" || m == "kgraph") {
    if (name == "classes") return int(lead);
  }
  if (name == "size" && lead > 0)
    return 0; // a bag's size
  return -1;
}

const char *dimNames(const std::string &m) {
  if (m == "images") return "`channels`, `height`, `width`";
  if (m == "tokens") return "`length`, `dim`";
  if (m == "vector" || m == "graph") return "`dim`";
  if (m == "labels" || m == "kgraph") return "`classes`";
  return "no members";
}

} // namespace

ValPtr Sema::eval(const Expr &e, Env *env, int module) {
  switch (e.kind) {
  case ExprKind::Number:
    return e.isInteger ? makeInt(e.integer, e.range) : makeFloat(e.number, e.range);
  case ExprKind::String:
    return makeString(e.text, e.range);
  case ExprKind::Bool:
    return makeBool(e.boolean, e.range);
  case ExprKind::None:
    return makeNone(e.range);
  case ExprKind::Name: {
    if (e.text == "inf")
      return makeFloat(INFINITY, e.range);
    ValPtr v = lookup(e, env, module);
    if (v->isError() || !v->isConstant())
      return v;
    // Constants keep their value but take the location of their use.
    auto copy = std::make_shared<Val>(*v);
    copy->origin = e.range;
    return copy;
  }
  case ExprKind::Member:
    return evalMember(e, env, module);
  case ExprKind::Call:
    return evalCall(e, env, module);
  case ExprKind::List: {
    std::vector<ValPtr> items;
    bool error = false;
    for (const auto &op : e.operands) {
      items.push_back(eval(*op, env, module));
      error |= items.back()->isError();
    }
    return error ? makeError() : makeList(std::move(items), e.range);
  }
  case ExprKind::Record: {
    auto v = std::make_shared<Val>();
    v->kind = VK::Record;
    v->origin = e.range;
    for (size_t i = 0; i < e.operands.size(); ++i) {
      for (size_t k = 0; k < i; ++k)
        if (e.argNames[k] == e.argNames[i])
          diags_.emit(diag::DuplicateSetting, e.argNameRanges[i], e.argNames[i])
              .note(diag::ValueComesFrom, e.argNameRanges[k], "the first value");
      v->keys.push_back(e.argNames[i]);
      v->items.push_back(eval(*e.operands[i], env, module));
      if (v->items.back()->isError())
        return makeError();
    }
    return v;
  }
  case ExprKind::Unary:
    return evalUnary(e, env, module);
  case ExprKind::Binary:
    return evalBinary(e, env, module);
  case ExprKind::Sweep:
    return evalSweep(e, env, module);
  case ExprKind::Index: {
    // `xs[i]` indexes a list; otherwise `x[...]` is a type written as an
    // expression (`list[int]`), meaningful only where a type is expected.
    const Expr &base = *e.operands[0];
    bool typeHead = base.kind == ExprKind::Name &&
                    (base.text == "list" || base.text == "bag" || isModality(base.text));
    if (!typeHead) {
      ValPtr list = eval(base, env, module);
      if (list->isError())
        return list;
      if (list->kind != VK::List || e.operands.size() != 2) {
        diags_.emit(diag::InvalidOperands, e.range, "[]", list->describe(), "an index");
        return makeError();
      }
      ValPtr index = eval(*e.operands[1], env, module);
      if (index->isError())
        return index;
      if (index->kind != VK::Int || index->i < 0 || index->i >= int64_t(list->items.size())) {
        diags_.emit(diag::OutOfRange, e.operands[1]->range, "the index", index->str(),
                    fmt::format("an integer in [0, {}]", int64_t(list->items.size()) - 1));
        return makeError();
      }
      return list->items[index->i];
    }
    auto v = std::make_shared<Val>();
    v->kind = VK::Type;
    v->typeExpr = &e;
    v->origin = e.range;
    return v;
  }
  case ExprKind::Rest:
    diags_.emit(diag::NotAllowedHere, e.range, "`...`", "outside a shape pattern");
    return makeError();
  }
  return makeError();
}

ValPtr Sema::evalMember(const Expr &e, Env *env, int module) {
  ValPtr base = eval(*e.operands[0], env, module);
  if (base->isError())
    return base;
  const std::string &m = e.text;
  auto unknown = [&](const std::string &what, const std::vector<std::string> &candidates,
                     const std::string &hint) {
    auto d = diags_.emit(diag::UnknownMember, e.textRange, what, m);
    std::string guess = closestMatch(m, candidates);
    if (!guess.empty())
      d.help(fmt::format("did you mean `{}`?", guess)).fixit(e.textRange, guess);
    else if (!hint.empty())
      d.help(hint);
    return makeError();
  };
  switch (base->kind) {
  case VK::Namespace: {
    const LoadedModule &mod = modules_.module(base->module);
    std::vector<std::string> names;
    for (const ast::Decl &d : mod.ast.decls) {
      if (d.name == m)
        return checkDecl(d);
      names.push_back(d.name);
    }
    return unknown(fmt::format("module `{}`", mod.name), names, "");
  }
  case VK::Dataset: {
    const DatasetInfo *ds = base->dataset;
    if (m == "held_out" || m == "train" || m == "all") {
      if (base->split != "all" && base->split != "train") {
        diags_.emit(diag::UnknownMember, e.textRange, "a split", m)
            .help("splits do not nest; take `held_out` of the dataset itself");
        return makeError();
      }
      auto v = std::make_shared<Val>(*base);
      v->split = m;
      v->origin = e.range;
      return v;
    }
    if (const DataType *t = ds->column(m)) {
      auto v = std::make_shared<Val>();
      v->kind = VK::Data;
      v->type = *t;
      v->dataset = ds;
      v->split = base->split;
      v->column = m;
      v->origin = e.range;
      return v;
    }
    if (std::find(ds->unpaired.begin(), ds->unpaired.end(), m) != ds->unpaired.end()) {
      diags_.emit(diag::UnknownMember, e.textRange, fmt::format("dataset `{}`", ds->decl->name), m)
          .help(fmt::format("paired columns exist with `pairing = \"micon\"` on `{}`'s source",
                            ds->decl->name));
      return makeError();
    }
    std::vector<std::string> names{"held_out", "train", "all"};
    for (const auto &[n, t] : ds->columns)
      names.push_back(n);
    return unknown(fmt::format("dataset `{}`", ds->decl->name), names,
                   fmt::format("its columns are `{}`; its splits `train`, `held_out`, `all`",
                               fmt::join(std::vector<std::string>(names.begin() + 3, names.end()),
                                         "`, `")));
  }
  case VK::Data: {
    int k = dimIndex(base->type, m);
    if (k >= 0)
      return makeInt(base->type.dims[k], e.range);
    return unknown(base->describe(), {"channels", "height", "width", "dim", "length", "classes", "size"},
                   fmt::format("{} has {}", base->type.modality, dimNames(base->type.modality)));
  }
  case VK::Record: {
    if (const Val *f = base->field(m)) {
      auto v = std::make_shared<Val>(*f);
      return v;
    }
    return unknown("the record", base->keys, "");
  }
  case VK::Encoder:
  case VK::Object: {
    if (const Val *a = base->arg(m))
      return std::make_shared<Val>(*a);
    std::vector<std::string> names;
    for (const auto &[n, v] : base->args)
      names.push_back(n);
    return unknown(base->describe(), names, "");
  }
  default:
    return unknown(base->describe(), {}, "");
  }
}

ValPtr Sema::evalUnary(const Expr &e, Env *env, int module) {
  ValPtr v = eval(*e.operands[0], env, module);
  if (v->isError())
    return v;
  if (e.text == "not") {
    if (v->kind == VK::Bool)
      return makeBool(!v->b, e.range);
  } else if (v->kind == VK::Int) {
    return makeInt(-v->i, e.range);
  } else if (v->kind == VK::Float) {
    return makeFloat(-v->f, e.range);
  } else if (v->kind == VK::Object && v->s == "loss") {
    return lossArith(e, makeFloat(-1.0), v);
  }
  diags_.emit(diag::InvalidOperands, e.range, e.text, v->describe(), "nothing");
  return makeError();
}

ValPtr Sema::lossArith(const Expr &e, const ValPtr &l, const ValPtr &r) {
  // Flattens `w1 * a + w2 * b - c` into weighted terms.
  auto termsOf = [](const ValPtr &v, double scale,
                    std::vector<std::pair<double, ValPtr>> &out) {
    if (!v->terms.empty())
      for (const auto &[w, t] : v->terms)
        out.emplace_back(w * scale, t);
    else
      out.emplace_back(scale, v);
  };
  auto sum = std::make_shared<Val>();
  sum->kind = VK::Object;
  sum->s = "loss";
  sum->origin = e.range;
  const std::string &op = e.text;
  if (op == "+" || op == "-") {
    termsOf(l, 1.0, sum->terms);
    termsOf(r, op == "-" ? -1.0 : 1.0, sum->terms);
  } else if (op == "*" && l->isNumber()) {
    termsOf(r, l->number(), sum->terms);
  } else if (op == "*" || op == "-") {
    termsOf(l, r->number(), sum->terms);
  } else { // "/"
    termsOf(l, 1.0 / r->number(), sum->terms);
  }
  return sum;
}

ValPtr Sema::invalidOperands(const Expr &e, const ValPtr &l, const ValPtr &r) {
  diags_.emit(diag::InvalidOperands, e.range, e.text, l->describe(), r->describe());
  return makeError();
}

// Tensors in network bodies: residual `x + f(x)`, scaling by constants.
ValPtr Sema::tensorArith(const Expr &e, const ValPtr &l, const ValPtr &r) {
  const std::string &op = e.text;
  if ((op == "+" || op == "-" || op == "*") && l->kind == VK::Data && r->kind == VK::Data) {
    if (l->type.dims != r->type.dims) {
      diags_.emit(diag::ShapeMismatch, e.range, fmt::format("`{}`", op), "operands of the same shape",
                  fmt::format("{} and {}", l->type.describe(), r->type.describe()));
      return makeError();
    }
    auto v = std::make_shared<Val>(*l);
    v->origin = e.range;
    NetNode node;
    node.op = op == "+" ? "add" : op == "-" ? "sub" : "mul";
    node.operands = {l->node, r->node};
    trace(std::move(node), *v);
    return v;
  }
  if ((op == "*" || op == "/") && (l->isNumber() || r->isNumber())) {
    const Val &data = l->kind == VK::Data ? *l : *r, &number = l->kind == VK::Data ? *r : *l;
    auto v = std::make_shared<Val>(data);
    v->origin = e.range;
    NetNode node;
    // x * c, c * x and x / c scale; c / x is a reciprocal (no kernel yet).
    node.op = op == "/" && l->isNumber() ? "reciprocal" : "scale";
    node.operands = {data.node};
    double c = number.number();
    node.config["factor"] = makeFloat(op == "/" && r->isNumber() ? 1.0 / c : c);
    trace(std::move(node), *v);
    return v;
  }
  return invalidOperands(e, l, r);
}

// Comparisons and arithmetic on two numbers: integers stay integers (exact
// division included) and overflow is an error; otherwise doubles.
ValPtr Sema::numberArith(const Expr &e, const ValPtr &l, const ValPtr &r) {
  const std::string &op = e.text;
  if (op == "<") return makeBool(l->number() < r->number(), e.range);
  if (op == "<=") return makeBool(l->number() <= r->number(), e.range);
  if (op == ">") return makeBool(l->number() > r->number(), e.range);
  if (op == ">=") return makeBool(l->number() >= r->number(), e.range);
  bool ints = l->kind == VK::Int && r->kind == VK::Int;
  if ((op == "/" || op == "%") && r->number() == 0) {
    diags_.emit(diag::DivisionByZero, e.operands[1]->range);
    return makeError();
  }
  if (ints) {
    int64_t a = l->i, b = r->i, out = 0;
    bool overflow = false;
    if (op == "+") overflow = __builtin_add_overflow(a, b, &out);
    else if (op == "-") overflow = __builtin_sub_overflow(a, b, &out);
    else if (op == "*") overflow = __builtin_mul_overflow(a, b, &out);
    else if (op == "%") out = a % b;
    else if (a % b == 0 && !(a == INT64_MIN && b == -1)) out = a / b; // exact division stays an integer
    else return makeFloat(double(a) / double(b), e.range);
    if (overflow) {
      diags_.emit(diag::IntegerTooLarge, e.range, fmt::format("{} {} {}", a, op, b));
      return makeError();
    }
    return makeInt(out, e.range);
  }
  double a = l->number(), b = r->number();
  double out = op == "+" ? a + b : op == "-" ? a - b : op == "*" ? a * b
             : op == "/" ? a / b : std::fmod(a, b);
  return makeFloat(out, e.range);
}

ValPtr Sema::evalBinary(const Expr &e, Env *env, int module) {
  const std::string &op = e.text;
  if (op == "|" || op == "->") {
    // Only meaningful as a type (`"S" | "B"`) or a mapping argument.
    auto v = std::make_shared<Val>();
    v->kind = VK::Type;
    v->typeExpr = &e;
    v->origin = e.range;
    return v;
  }
  ValPtr l = eval(*e.operands[0], env, module);
  ValPtr r = eval(*e.operands[1], env, module);
  if (l->isError() || r->isError())
    return makeError();
  bool isLoss = [&] {
    auto loss = [](const ValPtr &v) { return v->kind == VK::Object && v->s == "loss"; };
    if (op == "+" || op == "-")
      return loss(l) && loss(r);
    if (op == "*")
      return (loss(l) && r->isNumber()) || (l->isNumber() && loss(r));
    if (op == "/")
      return loss(l) && r->isNumber();
    return false;
  }();
  if (isLoss) {
    if (op == "/" && r->number() == 0) {
      diags_.emit(diag::DivisionByZero, e.operands[1]->range);
      return makeError();
    }
    return lossArith(e, l, r);
  }
  if (l->kind == VK::Data || r->kind == VK::Data)
    return tensorArith(e, l, r);
  if (op == "and" || op == "or") {
    if (l->kind != VK::Bool || r->kind != VK::Bool)
      return invalidOperands(e, l, r);
    return makeBool(op == "and" ? (l->b && r->b) : (l->b || r->b), e.range);
  }
  if (op == "==" || op == "!=") {
    bool eq;
    if (l->isNumber() && r->isNumber())
      eq = l->number() == r->number();
    else if (l->isConstant() && r->isConstant() && l->kind == r->kind)
      eq = l->str() == r->str();
    else if (l->kind == VK::None || r->kind == VK::None)
      eq = l->kind == r->kind;
    else
      return invalidOperands(e, l, r);
    return makeBool(op == "==" ? eq : !eq, e.range);
  }
  if (!l->isNumber() || !r->isNumber()) {
    if (op == "+" && l->kind == VK::String && r->kind == VK::String)
      return makeString(l->s + r->s, e.range);
    return invalidOperands(e, l, r);
  }
  return numberArith(e, l, r);
}

ValPtr Sema::evalSweep(const Expr &e, Env *env, int module) {
  if (env) {
    diags_.emit(diag::NotAllowedHere, e.range, "`sweep`", "inside a network or stdlib definition");
    return makeError();
  }
  const Expr &space = *e.operands[0];
  SweepSpace info;
  info.expr = &e;
  auto record = [&] {
    for (const SweepSpace &s : sweeps_)
      if (s.expr == &e)
        return;
    sweeps_.push_back(info);
  };
  auto chosen = point_.find(&e);
  if (space.kind == ExprKind::List) {
    if (space.operands.empty()) {
      diags_.emit(diag::BadSweep, e.range, "a sweep over an empty list has no points");
      return makeError();
    }
    info.count = space.operands.size();
    record();
    int index = chosen != point_.end() ? chosen->second.index : 0;
    return eval(*space.operands[std::max(0, index)], env, module);
  }
  if (space.kind == ExprKind::Call && space.callee().kind == ExprKind::Name) {
    const std::string &dist = space.callee().text;
    std::vector<ValPtr> args;
    for (size_t i = 0; i < space.argCount(); ++i)
      args.push_back(eval(space.arg(i), env, module));
    for (const ValPtr &a : args)
      if (a->isError())
        return a;
    info.grid = false;
    info.dist = dist;
    if ((dist == "uniform" || dist == "log_uniform" || dist == "int_uniform") &&
        args.size() == 2 && args[0]->isNumber() && args[1]->isNumber()) {
      double lo = args[0]->number(), hi = args[1]->number();
      if (!(lo < hi) || (dist == "log_uniform" && lo <= 0)) {
        diags_.emit(diag::BadSweep, space.range,
                    fmt::format("`{}` needs low < high{}; found {} and {}", dist,
                                dist == "log_uniform" ? " and low > 0" : "", args[0]->str(),
                                args[1]->str()));
        return makeError();
      }
      info.lo = lo;
      info.hi = hi;
      record();
      if (chosen != point_.end() && chosen->second.sample)
        return chosen->second.sample;
      // Without a chosen point, the low end stands for the distribution.
      if (dist == "int_uniform")
        return makeInt(int64_t(std::ceil(lo)), e.range);
      return makeFloat(lo, e.range);
    }
    if (dist == "choice" && args.size() == 1 && args[0]->kind == VK::List &&
        !args[0]->items.empty()) {
      info.lo = 0;
      info.hi = double(args[0]->items.size());
      record();
      int index = chosen != point_.end() ? chosen->second.index : 0;
      return args[0]->items[std::max(0, index)];
    }
  }
  diags_.emit(diag::BadSweep, e.range,
              "a sweep is `sweep [v1, v2, ...]` (grid) or `sweep uniform(lo, hi)`, "
              "`sweep log_uniform(lo, hi)`, `sweep int_uniform(lo, hi)`, `sweep choice([...])` "
              "(random)");
  return makeError();
}

ValPtr Sema::evalIntrinsic(const Expr &e, const std::vector<Arg> &args) {
  const std::string &f = e.callee().text;
  for (const Arg &a : args)
    if (a.value->isError())
      return makeError();
  auto num = [&](size_t i) { return args[i].value->number(); };
  bool numeric = !args.empty();
  for (const Arg &a : args)
    numeric &= a.value->isNumber() && a.name.empty();
  if (!numeric) {
    diags_.emit(diag::TypeMismatch, e.range, fmt::format("`{}`", f), "numbers",
                args.empty() ? std::string("no arguments") : args[0].value->describe());
    return makeError();
  }
  if ((f == "floor" || f == "ceil" || f == "round") && args.size() == 1) {
    double v = f == "floor" ? std::floor(num(0)) : f == "ceil" ? std::ceil(num(0)) : std::round(num(0));
    return makeInt(int64_t(v), e.range);
  }
  if ((f == "min" || f == "max") && args.size() >= 2) {
    bool ints = true;
    for (const Arg &a : args)
      ints &= a.value->kind == VK::Int;
    double best = num(0);
    for (size_t i = 1; i < args.size(); ++i)
      best = f == "min" ? std::min(best, num(i)) : std::max(best, num(i));
    return ints ? makeInt(int64_t(best), e.range) : makeFloat(best, e.range);
  }
  if ((f == "log" || f == "sqrt" || f == "exp") && args.size() == 1) {
    double v = num(0);
    if ((f == "log" && v <= 0) || (f == "sqrt" && v < 0)) {
      diags_.emit(diag::OutOfRange, args[0].range, fmt::format("the argument of `{}`", f),
                  args[0].value->str(), f == "log" ? "a value > 0" : "a value >= 0");
      return makeError();
    }
    return makeFloat(f == "log" ? std::log(v) : f == "sqrt" ? std::sqrt(v) : std::exp(v), e.range);
  }
  diags_.emit(diag::TooManyArguments, e.range, f, int64_t(f == "min" || f == "max" ? 2 : 1),
              int64_t(args.size()));
  return makeError();
}

static bool isIntrinsic(const std::string &name) {
  static const char *names[] = {"floor", "ceil", "round", "min", "max", "log", "sqrt", "exp"};
  for (const char *n : names)
    if (name == n)
      return true;
  return false;
}

ValPtr Sema::evalCall(const Expr &e, Env *env, int module) {
  std::vector<Arg> args;
  bool error = false;
  for (size_t i = 0; i < e.argCount(); ++i) {
    Arg a;
    a.name = e.argNames[i];
    a.nameRange = e.argNameRanges[i];
    a.range = a.name.empty() ? e.arg(i).range : SourceRange::cover(a.nameRange, e.arg(i).range);
    a.value = eval(e.arg(i), env, module);
    error |= a.value->isError();
    args.push_back(std::move(a));
  }
  const Expr &callee = e.callee();
  if (callee.kind == ExprKind::Name && isIntrinsic(callee.text) &&
      !(env && env->find(callee.text)) && !scopes_[module].count(callee.text))
    return evalIntrinsic(e, args);
  ValPtr f = eval(callee, env, module);
  if (f->isError())
    return makeError();
  if (error && f->kind != VK::Callable)
    return makeError();
  if (f->kind == VK::Callable) {
    // Arguments that bound are still checked when others did not.
    Bound bound;
    bool ok = bindArgs(*f->decl, args, false, bound);
    ValPtr v = apply(*f->decl, f->module, std::move(bound), e.range);
    return ok ? v : makeError();
  }
  if (f->kind == VK::Encoder) {
    // Applying an encoder: its configuration plus the inputs given here.
    Bound bound;
    if (!bindArgs(*f->decl, args, false, bound, &f->args))
      return makeError();
    for (const auto &[name, v] : f->args) {
      bound.args[name] = v;
      bound.ranges[name] = v->origin;
    }
    return apply(*f->decl, f->module, std::move(bound), e.range, f);
  }
  diags_.emit(diag::NotCallable, callee.range, f->describe());
  return makeError();
}

} // namespace expc
