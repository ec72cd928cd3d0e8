// Types are expressions read in a type context:
//
//   int  float  bool  string  template  any  record  encoder  dataset
//   "S" | "B" | "L"                       an enumeration of strings
//   list[T]
//   images[c, h, w]  vector[d]  tokens[n, d]  labels[k]  graph[f]  kgraph[k]
//   text  molecules  tensor[..., d]  bag[m, T]
//   loss  optimizer  schedule  metric  kgsource  ...  (objects externs return)
//
// Dims in data types are patterns: an unbound name is a shape variable bound by
// the first argument that meets it, and every later use must agree; other
// expressions are evaluated and compared. `...` in a tensor pattern captures
// leading dims. Inputs with more leading dims than the pattern map the network
// or layer over them (a bag of images through an image encoder gives a bag of
// embeddings).
#include "sema/Sema.h"

#include "sema/Env.h"

#include <algorithm>
#include <cmath>

namespace expc {

using ast::Expr;
using ast::ExprKind;

namespace {

const char *kObjectTypes[] = {"loss", "optimizer", "schedule", "metric", "kgsource",
                              "featurizer", "train_settings", "dataset_settings",
                              "evaluate_settings", "sweep_settings", "dataset_source",
                              "weights", "augment", "stage"};

bool isObjectType(const std::string &n) {
  for (const char *t : kObjectTypes)
    if (n == t)
      return true;
  return false;
}

// The head name of a type expression (`images` of `images[c, h, w]`).
const Expr *head(const Expr &type) {
  if (type.kind == ExprKind::Name)
    return &type;
  if (type.kind == ExprKind::Index && type.operands[0]->kind == ExprKind::Name)
    return type.operands[0].get();
  return nullptr;
}

void enumMembers(const Expr &type, std::vector<std::string> &out, bool &onlyStrings) {
  if (type.kind == ExprKind::Binary && type.text == "|") {
    enumMembers(*type.operands[0], out, onlyStrings);
    enumMembers(*type.operands[1], out, onlyStrings);
  } else if (type.kind == ExprKind::String) {
    out.push_back("\"" + type.text + "\"");
  } else if (type.kind == ExprKind::Number && type.isInteger) {
    out.push_back(std::to_string(type.integer));
  } else {
    onlyStrings = false;
  }
}

std::string exprText(const Expr &e, const Sema::Env *env);

std::string dimText(const Expr &e, const Sema::Env *env) {
  if (e.kind == ExprKind::Name && env)
    if (ValPtr v = env->find(e.text); v && v->kind == VK::Int)
      return v->i == kUnknownDim ? "?" : std::to_string(v->i);
  return exprText(e, env);
}

std::string exprText(const Expr &e, const Sema::Env *env) {
  switch (e.kind) {
  case ExprKind::Name: return e.text;
  case ExprKind::Number: return e.isInteger ? std::to_string(e.integer) : fmt::format("{}", e.number);
  case ExprKind::String: return "\"" + e.text + "\"";
  case ExprKind::Rest: return "...";
  case ExprKind::Binary:
    return dimText(*e.operands[0], env) + " " + e.text + " " + dimText(*e.operands[1], env);
  case ExprKind::Index: {
    std::vector<std::string> parts;
    for (size_t i = 1; i < e.operands.size(); ++i)
      parts.push_back(dimText(*e.operands[i], env));
    return exprText(*e.operands[0], env) + "[" + fmt::format("{}", fmt::join(parts, ", ")) + "]";
  }
  case ExprKind::Call: {
    std::vector<std::string> parts;
    for (size_t i = 0; i < e.argCount(); ++i)
      parts.push_back(dimText(e.arg(i), env));
    return exprText(e.callee(), env) + "(" + fmt::format("{}", fmt::join(parts, ", ")) + ")";
  }
  default: return "?";
  }
}

} // namespace

std::string Sema::renderType(const Expr &type, const Env *env) const {
  return exprText(type, env);
}

bool Sema::isDataType(const Expr &type) const {
  const Expr *h = head(type);
  return h && (h->text == "bag" || isModality(h->text));
}

bool Sema::evalDim(const Expr &e, Env &env, int module, int64_t &out) {
  ValPtr v = eval(e, &env, module);
  if (v->isError())
    return false;
  if (v->kind == VK::Int) {
    out = v->i;
    return true;
  }
  if (v->kind == VK::Float && v->f == std::floor(v->f) && std::isfinite(v->f)) {
    out = int64_t(v->f);
    return true;
  }
  diags_.emit(diag::TypeMismatch, e.range, "a shape", "an integer", v->str());
  return false;
}

std::string Sema::describeRange(const ast::Param &p, Env &env, int module) {
  ValPtr lo = eval(*p.min, &env, module), hi = eval(*p.max, &env, module);
  bool loInf = lo->isNumber() && std::isinf(lo->number());
  bool hiInf = hi->isNumber() && std::isinf(hi->number());
  if (hiInf && !loInf)
    return fmt::format("a value {} {}", p.minOpen ? ">" : ">=", lo->str());
  if (loInf && !hiInf)
    return fmt::format("a value {} {}", p.maxOpen ? "<" : "<=", hi->str());
  return fmt::format("a value in {}{}, {}{}", p.minOpen ? "(" : "[", lo->str(), hi->str(),
                     p.maxOpen ? ")" : "]");
}

bool Sema::checkConstraint(const ast::Param &p, const ValPtr &v, Env &env, int module,
                           const std::string &what, SourceRange at) {
  if (!p.min)
    return true;
  ValPtr lo = eval(*p.min, &env, module), hi = eval(*p.max, &env, module);
  if (lo->isError() || hi->isError())
    return false;
  if (!lo->isNumber() || !hi->isNumber()) {
    diags_.emit(diag::TypeMismatch, p.constraintRange, "a constraint", "numeric bounds",
                lo->describe());
    return false;
  }
  auto inside = [&](double x) {
    return (p.minOpen ? x > lo->number() : x >= lo->number()) &&
           (p.maxOpen ? x < hi->number() : x <= hi->number());
  };
  auto report = [&](const Val &x, SourceRange r) {
    auto d = diags_.emit(diag::OutOfRange, r.valid() ? r : at, what, x.kind == VK::Int && x.i == kUnknownDim ? "?" : x.str(),
                         describeRange(p, env, module));
    d.note(diag::ValueComesFrom, p.constraintRange, "the allowed range");
    if (x.kind == VK::Int && x.i == kUnknownDim) // inferred from a `labels` column of a real source
      d.help(fmt::format("the data's class count is known only when it is read; give `{}` explicitly (an upper "
                         "bound: the run checks that the data fits it)",
                         p.name));
    return false;
  };
  if (v->isNumber())
    return inside(v->number()) || report(*v, v->origin.valid() ? v->origin : at);
  if (v->kind == VK::List)
    for (const ValPtr &x : v->items)
      if (x->isNumber() && !inside(x->number()))
        return report(*x, x->origin);
  return true;
}

bool Sema::typeMismatch(const ValPtr &v, const std::string &what, SourceRange at, const std::string &expected) {
  auto d = diags_.emit(diag::TypeMismatch, at, what, expected, v->describe());
  if (v->kind == VK::Encoder || (v->kind == VK::Callable && v->decl && v->decl->kind == ast::DeclKind::Network))
    d.help("apply the encoder to data first, as in `encoder(dataset.image)`");
  return false;
}

// Enumerations and unions: `"S" | "B"`, `1 | 2`.
bool Sema::checkEnum(const Expr &type, const ValPtr &v, const std::string &what, SourceRange at) {
  std::vector<std::string> members;
  bool onlyStrings = true;
  enumMembers(type, members, onlyStrings);
  if (!onlyStrings) {
    diags_.emit(diag::NotAType, type.range, renderType(type, nullptr))
        .help("a union type lists strings or integers, as in `\"S\" | \"B\"`");
    return false;
  }
  std::string expected = members.size() == 1 ? members[0] : "one of " + fmt::format("{}", fmt::join(members, ", "));
  if (v->kind != VK::String && v->kind != VK::Int)
    return typeMismatch(v, what, at, expected);
  if (std::find(members.begin(), members.end(), v->str()) != members.end())
    return true;
  auto d = diags_.emit(diag::TypeMismatch, at, what, expected, v->str());
  std::string guess = closestMatch(v->str(), members);
  if (!guess.empty())
    d.help(fmt::format("did you mean {}?", guess)).fixit(at, guess);
  return false;
}

// The named types: scalars (an int widens to a float), records, encoders,
// datasets and the stdlib's object types.
bool Sema::checkNamed(const Expr &type, const std::string &n, const ValPtr &v, const std::string &what,
                      SourceRange at, ValPtr &out) {
  auto mismatch = [&](const std::string &expected) { return typeMismatch(v, what, at, expected); };
  if (n == "any")
    return true;
  if (n == "int") {
    if (v->kind == VK::Int)
      return true;
    if (v->kind == VK::Float) {
      diags_.emit(diag::TypeMismatch, at, what, "an integer", v->str())
          .help("write it without a fractional part or exponent");
      return false;
    }
    return mismatch("an integer");
  }
  if (n == "float") {
    if (v->kind == VK::Float)
      return true;
    if (v->kind == VK::Int) {
      out = makeFloat(double(v->i), v->origin);
      return true;
    }
    return mismatch("a number");
  }
  if (n == "bool")
    return v->kind == VK::Bool || mismatch("`true` or `false`");
  if (n == "string" || n == "template")
    return v->kind == VK::String || mismatch("a string");
  if (n == "record")
    return v->kind == VK::Record || mismatch("a record, as in `{ key = value }`");
  if (n == "encoder")
    return v->kind == VK::Encoder || mismatch("an encoder");
  if (n == "dataset")
    return v->kind == VK::Dataset || mismatch("a dataset");
  if (isObjectType(n)) {
    if (v->kind == VK::Object && v->s == n)
      return true;
    bool vowel = std::string("aeiou").find(n[0]) != std::string::npos;
    return mismatch(fmt::format("{} {}", vowel ? "an" : "a", n));
  }
  diags_.emit(diag::NotAType, type.range, n);
  return false;
}

bool Sema::checkValue(const Expr &type, const ValPtr &v, Env &env, int module,
                      const std::string &what, SourceRange at, ValPtr &out) {
  out = v;
  if (v->isError())
    return false;
  if (type.kind == ExprKind::String || (type.kind == ExprKind::Number && type.isInteger) ||
      (type.kind == ExprKind::Binary && type.text == "|"))
    return checkEnum(type, v, what, at);
  if (isDataType(type))
    return matchData(type, *v, env, module, nullptr, what, at);
  const Expr *h = head(type);
  if (!h) {
    diags_.emit(diag::NotAType, type.range, renderType(type, nullptr));
    return false;
  }
  const std::string &n = h->text;
  if (type.kind != ExprKind::Index)
    return checkNamed(type, n, v, what, at, out);
  if (n != "list" || type.operands.size() != 2) {
    diags_.emit(diag::NotAType, type.range, renderType(type, nullptr))
        .help("parameterised types are `list[T]` and the data types");
    return false;
  }
  if (v->kind != VK::List)
    return typeMismatch(v, what, at, "a list (" + renderType(type, &env) + ")");
  auto list = std::make_shared<Val>(*v);
  for (size_t i = 0; i < list->items.size(); ++i) {
    ValPtr item;
    SourceRange r = list->items[i]->origin.valid() ? list->items[i]->origin : at;
    if (!checkValue(*type.operands[1], list->items[i], env, module, fmt::format("element {} of {}", i + 1, what), r,
                    item))
      return false;
    list->items[i] = item;
  }
  out = list;
  return true;
}

ValPtr Sema::refineClasses(const Expr &type, const ValPtr &v, Env &env, int module) {
  // A labels column whose class count only the data knows (`labels[?]`),
  // passed where `labels[k]` has k known (`EmbeddingTable(classes = 500)`),
  // is seen inside as labels[k]: the table is sized by the declaration.
  const DataType &t = v->type;
  if (v->kind != VK::Data || t.modality != "labels" || t.dims.size() != 1 || t.dims[0] != kUnknownDim ||
      type.kind != ExprKind::Index || type.operands.size() != 2 || head(type)->text != "labels")
    return v;
  int64_t want = kUnknownDim; // matchData evaluated the pattern already, so this cannot fail
  if (!evalDim(*type.operands[1], env, module, want) || want == kUnknownDim)
    return v;
  auto refined = std::make_shared<Val>(*v);
  refined->type.dims[0] = want;
  return refined;
}

// One data value against one type pattern, and how to report a mismatch.
struct Sema::DataMatch {
  const Expr &type;
  const Val &v;
  int module;
  const std::string &what;
  SourceRange at;
  std::string head;     // the pattern's type: images, vector, tensor, bag, ...
  std::string expected; // the pattern as written, for messages
  std::vector<const Expr *> pats;
};

bool Sema::matchBag(const DataMatch &m, Env &env, std::vector<int64_t> *lead) {
  const DataType &t = m.v.type;
  if (m.pats.size() != 2) {
    diags_.emit(diag::NotAType, m.type.range, m.expected).help("a bag type is `bag[m, T]`");
    return false;
  }
  if (t.dims.size() <= t.core) {
    diags_.emit(diag::ShapeMismatch, m.at, m.what, m.expected, t.describe())
        .help("a bag holds several instances per row; set `bag` in the dataset's block");
    return false;
  }
  Val inner = m.v;
  inner.type.dims.erase(inner.type.dims.begin());
  int64_t size = t.dims[0];
  const Expr &mp = *m.pats[0];
  if (mp.kind == ExprKind::Name && !env.find(mp.text)) {
    env.vars[mp.text] = makeInt(size, m.at);
    env.boundBy[mp.text] = {m.what, m.at};
  } else {
    int64_t want = 0;
    if (!evalDim(mp, env, m.module, want))
      return false;
    if (want != size && want != kUnknownDim && size != kUnknownDim) {
      diags_.emit(diag::ShapeMismatch, m.at, m.what, renderType(m.type, &env), t.describe());
      return false;
    }
  }
  return matchData(*m.pats[1], inner, env, m.module, lead, m.what, m.at);
}

// A value of another modality, with a hint at the encoder it needs first.
bool Sema::modalityFits(const DataMatch &m) {
  const DataType &t = m.v.type;
  auto d = diags_.emit(diag::ModalityMismatch, m.at, m.what, m.expected, t.describe());
  if (t.modality == "molecules")
    d.help("encode the molecules first: featurise them (e.g. `morgan`) and apply a molecule "
           "encoder (e.g. `FingerprintMLP`)");
  else if (t.modality == "text")
    d.help("encode the text first, e.g. with `TextTransformer`");
  else if (t.modality == "images" && m.head == "vector")
    d.help("encode the images first, e.g. with `ViT` or `ResNet`");
  else if (t.modality == "labels" && m.head == "vector")
    d.help("embed the labels first, e.g. with `EmbeddingTable`");
  return false;
}

// The core dims against the patterns: an optional `...` first captures
// leading dims of a tensor; names bind, expressions must agree.
bool Sema::matchDims(const DataMatch &m, std::vector<int64_t> dims, Env &env) {
  const DataType &t = m.v.type;
  const std::vector<const Expr *> &pats = m.pats;
  size_t first = 0;
  if (!pats.empty() && pats[0]->kind == ExprKind::Rest) {
    first = 1;
    size_t fixed = pats.size() - 1;
    if (dims.size() < fixed) {
      diags_.emit(diag::ShapeMismatch, m.at, m.what, m.expected, t.describe());
      return false;
    }
    std::vector<int64_t> rest(dims.begin(), dims.end() - fixed);
    if (env.haveRest && env.rest != rest) {
      diags_.emit(diag::ShapeMismatch, m.at, m.what, "inputs with the same leading dims", t.describe());
      return false;
    }
    env.rest = rest;
    env.haveRest = true;
    dims.erase(dims.begin(), dims.end() - fixed);
  } else if (pats.size() != dims.size() && !(pats.empty() && m.head != "tensor")) {
    diags_.emit(diag::ShapeMismatch, m.at, m.what, m.expected, t.describe());
    return false;
  }
  for (size_t k = first; k < pats.size(); ++k) {
    const Expr &p = *pats[k];
    int64_t actual = dims[k - first];
    if (p.kind == ExprKind::Name && !env.find(p.text)) {
      env.vars[p.text] = makeInt(actual, m.at);
      env.boundBy[p.text] = {m.what, m.at};
      continue;
    }
    int64_t want = 0;
    if (!evalDim(p, env, m.module, want))
      return false;
    if (want == actual || want == kUnknownDim || actual == kUnknownDim)
      continue;
    std::string source;
    SourceRange sourceAt;
    if (p.kind == ExprKind::Name) {
      auto it = env.boundBy.find(p.text);
      if (it != env.boundBy.end()) {
        source = it->second.first;
        sourceAt = it->second.second;
      }
    }
    auto report = [&]() {
      if (m.head == "images" && k == first && t.modality == "images")
        return diags_.emit(diag::ChannelMismatch, m.at, m.what, want, actual);
      if (m.head == "vector" && t.modality == "vector")
        return diags_.emit(diag::WidthMismatch, m.at, m.what, want, actual);
      if (m.head == "labels" && t.modality == "labels")
        return diags_.emit(diag::ClassMismatch, m.at, m.what, want, actual);
      return diags_.emit(diag::ShapeMismatch, m.at, m.what, renderType(m.type, &env), t.describe());
    };
    auto d = report();
    if (!source.empty() && sourceAt.valid())
      d.note(diag::ValueComesFrom, sourceAt, fmt::format("`{}` = {} ({})", p.text, want, source));
    return false;
  }
  return true;
}

bool Sema::matchData(const Expr &type, const Val &v, Env &env, int module,
                     std::vector<int64_t> *lead, const std::string &what, SourceRange at) {
  if (v.isError())
    return false; // already reported
  DataMatch m{type, v, module, what, at, head(type)->text, renderType(type, &env), {}};
  if (v.kind != VK::Data) {
    auto d = diags_.emit(diag::TypeMismatch, at, what, m.expected, v.describe());
    if (v.kind == VK::Encoder)
      d.help("apply the encoder to data first, as in `encoder(dataset.image)`");
    return false;
  }
  for (size_t i = 1; type.kind == ExprKind::Index && i < type.operands.size(); ++i)
    m.pats.push_back(type.operands[i].get());
  const DataType &t = v.type;
  if (m.head == "bag")
    return matchBag(m, env, lead);
  int rank = modalityRank(m.head);
  // A bag of vectors is a sequence of tokens (per-channel features).
  bool erased = t.modality == "tensor" || (m.head == "tokens" && t.modality == "vector" && t.dims.size() > t.core);
  if (m.head != "tensor" && !erased && t.modality != m.head)
    return modalityFits(m);
  // Split the actual dims into leading (mapped-over) dims and the core.
  size_t core;
  if (m.head == "tensor") {
    core = t.dims.size();
  } else if (erased) {
    if (t.dims.size() < size_t(rank)) {
      diags_.emit(diag::ShapeMismatch, at, what, m.expected, t.describe());
      return false;
    }
    core = size_t(rank);
  } else {
    core = t.core;
  }
  std::vector<int64_t> lds(t.dims.begin(), t.dims.end() - core);
  std::vector<int64_t> dims(t.dims.end() - core, t.dims.end());
  if (lead) {
    if (!lds.empty() && !lead->empty() && *lead != lds) {
      diags_.emit(diag::ShapeMismatch, at, what, "inputs with the same bag dims", t.describe());
      return false;
    }
    if (!lds.empty())
      *lead = lds;
  } else if (!lds.empty()) {
    diags_.emit(diag::ShapeMismatch, at, what, m.expected, t.describe())
        .help("pool the bag first, e.g. with `GatedAttentionMIL` or `mean_pool`");
    return false;
  }
  return matchDims(m, std::move(dims), env);
}

ValPtr Sema::resultType(const Expr &type, Env &env, int module, const std::vector<int64_t> &lead,
                        const ast::Decl &callee, SourceRange at) {
  const Expr *h = head(type);
  if (type.kind == ExprKind::Call && type.callee().kind == ExprKind::Name &&
      type.callee().text == "dataset") {
    // A data source: its columns, typed from the source's arguments.
    auto v = std::make_shared<Val>();
    v->kind = VK::Object;
    v->s = "dataset_source";
    v->typeExpr = &type;
    for (size_t i = 0; i < type.argCount(); ++i) {
      ValPtr col = resultType(type.arg(i), env, module, {}, callee, at);
      if (col->isError())
        return col;
      v->keys.push_back(type.argNames[i]);
      v->items.push_back(col);
    }
    return v;
  }
  if (!h) {
    diags_.emit(diag::NotAType, type.range, renderType(type, nullptr));
    return makeError();
  }
  if (!isDataType(type)) {
    if (!isObjectType(h->text)) {
      diags_.emit(diag::NotAType, type.range, h->text);
      return makeError();
    }
    auto v = std::make_shared<Val>();
    v->kind = VK::Object;
    v->s = h->text;
    return v;
  }
  auto v = std::make_shared<Val>();
  v->kind = VK::Data;
  DataType &t = v->type;
  t.dims = lead;
  const Expr *cur = &type;
  // bag[m, T]: the bag dims lead, then T.
  while (head(*cur) && head(*cur)->text == "bag" && cur->operands.size() == 3) {
    int64_t m = 0;
    if (!evalDim(*cur->operands[1], env, module, m))
      return makeError();
    t.dims.push_back(m);
    cur = cur->operands[2].get();
  }
  t.modality = head(*cur) ? head(*cur)->text : "tensor";
  for (size_t i = 1; cur->kind == ExprKind::Index && i < cur->operands.size(); ++i) {
    const Expr &d = *cur->operands[i];
    if (d.kind == ExprKind::Rest) {
      t.dims.insert(t.dims.end(), env.rest.begin(), env.rest.end());
      continue;
    }
    int64_t n = 0;
    if (!evalDim(d, env, module, n))
      return makeError();
    t.dims.push_back(n);
  }
  if (cur->kind == ExprKind::Name && modalityRank(t.modality) > 0)
    for (int k = 0; k < modalityRank(t.modality); ++k)
      t.dims.push_back(kUnknownDim); // `labels`: the class count only the data knows
  t.core = t.modality == "tensor" ? t.dims.size() : size_t(std::max(0, modalityRank(t.modality)));
  for (int64_t d : t.dims)
    if (d != kUnknownDim && d <= 0) {
      diags_.emit(diag::EmptyShape, at, callee.name, t.describe());
      return makeError();
    }
  return v;
}

} // namespace expc
