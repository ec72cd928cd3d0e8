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

// Renders the AST as indented text; `positions` adds each node's range
// (`--emit=ast`), without them the text is the file's meaning alone (the
// compile cache and `exp fmt`'s check compare it).
struct Dumper {
  bool positions;
  std::string out;

  std::string loc(const SourceRange &r) const {
    if (!positions)
      return "";
    return fmt::format("<{}:{}-{}:{}>", r.beginLine, r.beginCol, r.endLine, r.endCol);
  }

  void expr(const Expr &e, int depth) {
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
        expr(*e.operands[i], depth + (named ? 2 : 1));
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
      expr(*op, depth + 1);
  }

  void param(const Param &p, int depth) {
    std::string ind(depth * 2, ' ');
    out += fmt::format("{}Param {} {}\n", ind, p.name, loc(p.range));
    expr(*p.type, depth + 1);
    if (p.min) {
      out += fmt::format("{}  In {}{}{}\n", ind, p.minOpen ? "(" : "[", p.maxOpen ? ")" : "]",
                         loc(p.constraintRange));
      expr(*p.min, depth + 2);
      expr(*p.max, depth + 2);
    }
    if (p.value) {
      out += fmt::format("{}  Default\n", ind);
      expr(*p.value, depth + 2);
    }
  }

  void stmts(const std::vector<Stmt> &list, int depth) {
    std::string ind(depth * 2, ' ');
    for (const Stmt &s : list) {
      switch (s.kind) {
      case StmtKind::Let:
        out += fmt::format("{}Let {} {}\n", ind, s.name, loc(s.range));
        expr(*s.value, depth + 1);
        break;
      case StmtKind::Return:
        out += fmt::format("{}Return {}\n", ind, loc(s.range));
        expr(*s.value, depth + 1);
        break;
      case StmtKind::Repeat:
        out += fmt::format("{}Repeat {}{}\n", ind, s.name.empty() ? "" : s.name + " ", loc(s.range));
        expr(*s.value, depth + 1);
        stmts(s.body, depth + 1);
        break;
      case StmtKind::If:
        out += fmt::format("{}If {}\n", ind, loc(s.range));
        expr(*s.value, depth + 1);
        stmts(s.body, depth + 1);
        if (!s.otherwise.empty()) {
          out += fmt::format("{}Else\n", ind);
          stmts(s.otherwise, depth + 1);
        }
        break;
      }
    }
  }
};

std::string dump(const Module &module, const SourceManager &sources, bool positions) {
  Dumper w{positions, fmt::format("Module {}\n", sources.name(module.file))};
  std::string &out = w.out;
  for (const Import &i : module.imports) {
    out += fmt::format("  Import {}", i.dotted());
    if (!i.names.empty())
      out += fmt::format(" {{{}}}", fmt::join(i.names, ", "));
    if (!i.alias.empty())
      out += " as " + i.alias;
    if (!i.hash.empty())
      out += " sha256:" + i.hash;
    out += " " + w.loc(i.range) + "\n";
  }
  for (const Decl &d : module.decls) {
    out += fmt::format("  Decl {} {}{} {}\n", declKeyword(d.kind),
                       d.externKind.empty() ? "" : d.externKind + " ", d.name, w.loc(d.range));
    for (const Param &p : d.params)
      w.param(p, 2);
    if (d.result) {
      out += "    Result\n";
      w.expr(*d.result, 3);
    }
    w.stmts(d.body, 2);
    if (d.value)
      w.expr(*d.value, 2);
    for (const Setting &s : d.settings) {
      out += fmt::format("    Setting {} {}\n", s.key, w.loc(s.keyRange));
      w.expr(*s.value, 3);
    }
  }
  return out;
}

} // namespace expc::ast
