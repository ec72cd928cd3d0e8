#include "ast/AST.h"

#include <fmt/format.h>

namespace expc::ast {

const char *declKeyword(DeclKind kind) {
  switch (kind) {
  case DeclKind::Param: return "param";
  case DeclKind::Network: return "network";
  case DeclKind::Extern: return "extern";
  case DeclKind::Dataset: return "dataset";
  case DeclKind::Side: return "side";
  case DeclKind::Encoder: return "encoder";
  case DeclKind::Objective: return "objective";
  case DeclKind::Train: return "train";
  case DeclKind::Evaluate: return "evaluate";
  case DeclKind::Sweep: return "sweep";
  }
  return "?";
}

std::string Import::dotted() const {
  if (!file.empty())
    return file;
  std::string s;
  for (const std::string &p : path)
    s += (s.empty() ? "" : ".") + p;
  return s;
}

std::string Import::namespaceName() const {
  if (!alias.empty())
    return alias;
  if (!path.empty())
    return path.back();
  // "./lib/common.exp" -> "common"
  size_t slash = file.find_last_of('/');
  std::string stem = slash == std::string::npos ? file : file.substr(slash + 1);
  size_t dot = stem.find('.');
  return dot == std::string::npos ? stem : stem.substr(0, dot);
}

ExprPtr Expr::clone() const {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->range = range;
  e->number = number;
  e->integer = integer;
  e->isInteger = isInteger;
  e->boolean = boolean;
  e->text = text;
  e->textRange = textRange;
  for (const ExprPtr &op : operands)
    e->operands.push_back(op->clone());
  e->argNames = argNames;
  e->argNameRanges = argNameRanges;
  return e;
}

static std::string loc(const SourceRange &r) {
  return fmt::format("<{}:{}-{}:{}>", r.beginLine, r.beginCol, r.endLine, r.endCol);
}

static void dumpExpr(std::string &out, const Expr &e, int depth) {
  std::string ind(depth * 2, ' ');
  switch (e.kind) {
  case ExprKind::Number:
    out += e.isInteger ? fmt::format("{}Int {} {}\n", ind, e.integer, loc(e.range))
                       : fmt::format("{}Float {} {}\n", ind, e.number, loc(e.range));
    return;
  case ExprKind::String:
    out += fmt::format("{}String \"{}\" {}\n", ind, e.text, loc(e.range));
    return;
  case ExprKind::Bool:
    out += fmt::format("{}Bool {} {}\n", ind, e.boolean, loc(e.range));
    return;
  case ExprKind::None:
    out += fmt::format("{}None {}\n", ind, loc(e.range));
    return;
  case ExprKind::Rest:
    out += fmt::format("{}Rest {}\n", ind, loc(e.range));
    return;
  case ExprKind::Name:
    out += fmt::format("{}Name {} {}\n", ind, e.text, loc(e.range));
    return;
  case ExprKind::Member:
    out += fmt::format("{}Member .{} {}\n", ind, e.text, loc(e.range));
    break;
  case ExprKind::Call:
  case ExprKind::Record:
    out += fmt::format("{}{} {}\n", ind, e.kind == ExprKind::Call ? "Call" : "Record",
                       loc(e.range));
    for (size_t i = 0; i < e.operands.size(); ++i) {
      size_t a = e.kind == ExprKind::Call ? i - 1 : i;
      bool named = (e.kind == ExprKind::Record || i > 0) && !e.argNames[a].empty();
      if (named)
        out += fmt::format("{}  {} {}\n", ind, e.kind == ExprKind::Call ? "Arg" : "Field",
                           e.argNames[a]);
      dumpExpr(out, *e.operands[i], depth + (named ? 2 : 1));
    }
    return;
  case ExprKind::Index:
    out += fmt::format("{}Index {}\n", ind, loc(e.range));
    break;
  case ExprKind::List:
    out += fmt::format("{}List {}\n", ind, loc(e.range));
    break;
  case ExprKind::Unary:
    out += fmt::format("{}Unary {} {}\n", ind, e.text, loc(e.range));
    break;
  case ExprKind::Binary:
    out += fmt::format("{}Binary {} {}\n", ind, e.text, loc(e.range));
    break;
  case ExprKind::Sweep:
    out += fmt::format("{}Sweep {}\n", ind, loc(e.range));
    break;
  }
  for (const ExprPtr &op : e.operands)
    dumpExpr(out, *op, depth + 1);
}

static void dumpParam(std::string &out, const Param &p, int depth) {
  std::string ind(depth * 2, ' ');
  out += fmt::format("{}Param {} {}\n", ind, p.name, loc(p.range));
  dumpExpr(out, *p.type, depth + 1);
  if (p.min) {
    out += fmt::format("{}  In {}{}{}\n", ind, p.minOpen ? "(" : "[", p.maxOpen ? ")" : "]",
                       loc(p.constraintRange));
    dumpExpr(out, *p.min, depth + 2);
    dumpExpr(out, *p.max, depth + 2);
  }
  if (p.value) {
    out += fmt::format("{}  Default\n", ind);
    dumpExpr(out, *p.value, depth + 2);
  }
}

static void dumpStmts(std::string &out, const std::vector<Stmt> &stmts, int depth) {
  std::string ind(depth * 2, ' ');
  for (const Stmt &s : stmts) {
    switch (s.kind) {
    case StmtKind::Let:
      out += fmt::format("{}Let {} {}\n", ind, s.name, loc(s.range));
      dumpExpr(out, *s.value, depth + 1);
      break;
    case StmtKind::Return:
      out += fmt::format("{}Return {}\n", ind, loc(s.range));
      dumpExpr(out, *s.value, depth + 1);
      break;
    case StmtKind::Repeat:
      out += fmt::format("{}Repeat {}{}\n", ind, s.name.empty() ? "" : s.name + " ", loc(s.range));
      dumpExpr(out, *s.value, depth + 1);
      dumpStmts(out, s.body, depth + 1);
      break;
    case StmtKind::If:
      out += fmt::format("{}If {}\n", ind, loc(s.range));
      dumpExpr(out, *s.value, depth + 1);
      dumpStmts(out, s.body, depth + 1);
      if (!s.otherwise.empty()) {
        out += fmt::format("{}Else\n", ind);
        dumpStmts(out, s.otherwise, depth + 1);
      }
      break;
    }
  }
}

std::string dump(const Module &module, const SourceManager &sources) {
  std::string out = fmt::format("Module {}\n", sources.name(module.file));
  for (const Import &i : module.imports) {
    out += fmt::format("  Import {}", i.dotted());
    if (!i.names.empty())
      out += fmt::format(" {{{}}}", fmt::join(i.names, ", "));
    if (!i.alias.empty())
      out += " as " + i.alias;
    if (!i.hash.empty())
      out += " sha256:" + i.hash;
    out += " " + loc(i.range) + "\n";
  }
  for (const Decl &d : module.decls) {
    out += fmt::format("  Decl {} {}{} {}\n", declKeyword(d.kind),
                       d.externKind.empty() ? "" : d.externKind + " ", d.name, loc(d.range));
    for (const Param &p : d.params)
      dumpParam(out, p, 2);
    if (d.result) {
      out += "    Result\n";
      dumpExpr(out, *d.result, 3);
    }
    dumpStmts(out, d.body, 2);
    if (d.value)
      dumpExpr(out, *d.value, 2);
    for (const Setting &s : d.settings) {
      out += fmt::format("    Setting {} {}\n", s.key, loc(s.keyRange));
      dumpExpr(out, *s.value, 3);
    }
  }
  return out;
}

} // namespace expc::ast
