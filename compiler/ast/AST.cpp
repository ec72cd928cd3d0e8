#include "ast/AST.h"

#include <fmt/format.h>

namespace expc::ast {

const char *declKeyword(DeclKind kind) {
  switch (kind) {
  case DeclKind::Dataset:
    return "dataset";
  case DeclKind::Encoder:
    return "encoder";
  case DeclKind::Objective:
    return "objective";
  case DeclKind::Train:
    return "train";
  case DeclKind::Evaluate:
    return "evaluate";
  }
  return "?";
}

std::string Import::dotted() const {
  std::string s;
  for (const std::string &p : path)
    s += (s.empty() ? "" : ".") + p;
  return s;
}

static std::string loc(const SourceRange &r) {
  return fmt::format("<{}:{}-{}:{}>", r.beginLine, r.beginCol, r.endLine,
                     r.endCol);
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
  case ExprKind::Name:
    out += fmt::format("{}Name {} {}\n", ind, e.text, loc(e.range));
    return;
  case ExprKind::Member:
    out += fmt::format("{}Member .{} {}\n", ind, e.text, loc(e.range));
    break;
  case ExprKind::Call:
    out += fmt::format("{}Call {}\n", ind, loc(e.range));
    dumpExpr(out, e.callee(), depth + 1);
    for (size_t i = 0; i < e.argCount(); ++i) {
      if (!e.argNames[i].empty())
        out += fmt::format("{}  Arg {}\n", ind, e.argNames[i]);
      dumpExpr(out, e.arg(i), depth + (e.argNames[i].empty() ? 1 : 2));
    }
    return;
  case ExprKind::List:
    out += fmt::format("{}List {}\n", ind, loc(e.range));
    break;
  case ExprKind::Neg:
    out += fmt::format("{}Neg {}\n", ind, loc(e.range));
    break;
  case ExprKind::Binary:
    out += fmt::format("{}Binary {} {}\n", ind, e.text, loc(e.range));
    break;
  }
  for (const ExprPtr &op : e.operands)
    dumpExpr(out, *op, depth + 1);
}

std::string dump(const Module &module, const SourceManager &sources) {
  std::string out = fmt::format("Module {}\n", sources.name(module.file));
  for (const Import &i : module.imports)
    out += fmt::format("  Import {} {}\n", i.dotted(), loc(i.range));
  for (const Decl &d : module.decls) {
    out += fmt::format("  Decl {} {} {}\n", declKeyword(d.kind), d.name,
                       loc(d.range));
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
