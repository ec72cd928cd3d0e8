// The abstract syntax tree of an .exp file. Plain data with source ranges; no
// meaning is attached here (that is sema's job). Expressions use one tagged
// node type so that passes over them are simple switch statements. Types are
// expressions too (`images[c, h, w]`, `"S" | "B"`); sema reads them in a type
// context.
#pragma once

#include "diagnostics/SourceManager.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace expc::ast {

enum class ExprKind {
  Number, // number, isInteger
  String, // text (decoded; `{name}` placeholders kept for templates)
  Bool,   // boolean
  None,   // `none`
  Name,   // text
  Member, // operands[0] . text
  Call,   // operands[0] ( operands[1..] ), argNames
  Index,  // operands[0] [ operands[1..] ]  (type constructors: images[c, h, w])
  List,   // [ operands... ]
  Record, // { argNames[i] = operands[i] }
  Unary,  // text operands[0]; text is `-` or `not`
  Binary, // operands[0] text operands[1]: + - * / % == != < <= > >= and or | ->
  Sweep,  // sweep operands[0]: a list (grid) or a call (random distribution)
  Rest,   // `...` in a shape pattern
};

struct Expr {
  ExprKind kind;
  SourceRange range;
  double number = 0;
  int64_t integer = 0;
  bool isInteger = false;
  bool boolean = false;
  std::string text;
  SourceRange textRange; // Member: the member name
  std::vector<std::unique_ptr<Expr>> operands;
  // Call and Record: one entry per argument/field, "" for positional ones.
  std::vector<std::string> argNames;
  std::vector<SourceRange> argNameRanges;

  const Expr &callee() const { return *operands[0]; }
  size_t argCount() const { return operands.size() - 1; }
  const Expr &arg(size_t i) const { return *operands[i + 1]; }
  std::unique_ptr<Expr> clone() const;
};
using ExprPtr = std::unique_ptr<Expr>;

// `name: type in [min, max] = default` in a network, extern or param decl.
struct Param {
  std::string name;
  SourceRange nameRange;
  SourceRange range;
  ExprPtr type;
  ExprPtr min, max; // constraint bounds, null when unconstrained
  bool minOpen = false, maxOpen = false;
  SourceRange constraintRange;
  ExprPtr value; // default; null when required
};

enum class StmtKind { Let, Repeat, If, Return };

struct Stmt {
  StmtKind kind;
  SourceRange range;
  std::string name; // Let: the bound name; Repeat: the index variable ("" if none)
  SourceRange nameRange;
  ExprPtr value;    // Let/Return: the value; Repeat: the count; If: the condition
  std::vector<Stmt> body, otherwise;
};

enum class DeclKind {
  Param,
  Network,
  Extern,
  Dataset,
  Side,
  Encoder,
  Objective,
  Train,
  Evaluate,
  Sweep,
};
const char *declKeyword(DeclKind kind);

struct Setting {
  std::string key;
  SourceRange keyRange;
  ExprPtr value;
};

struct Decl {
  DeclKind kind;
  std::string name;
  SourceRange keywordRange;
  SourceRange nameRange;
  SourceRange range;
  std::string doc; // `///` comments above the declaration

  // dataset, side, encoder, objective, train, evaluate, sweep
  ExprPtr value; // may be null
  std::vector<Setting> settings;

  // param: params[0]; network and extern: their parameters
  std::vector<Param> params;
  ExprPtr result;                 // network, extern: the result type
  std::string externKind;         // extern: `layer`, `objective`, ...
  SourceRange externKindRange;
  std::vector<Stmt> body;         // network
};

struct Import {
  std::vector<std::string> path; // std.encoders -> {"std", "encoders"}
  std::string file;              // import "./x.exp": the path as written
  std::vector<std::string> names; // import m.{a, b}
  std::vector<SourceRange> nameRanges;
  std::string alias;             // import m as x
  std::string hash;              // sha256:... (the hex digits), "" when unpinned
  SourceRange targetRange, hashRange, range;
  std::string dotted() const;    // "std.encoders" or the file path
  // The name the import binds when it binds a namespace.
  std::string namespaceName() const;
};

struct Module {
  FileId file = 0;
  std::vector<Import> imports;
  std::vector<Decl> decls;
};

// Human-readable dump for `exp compile --emit=ast`. Without `positions` it
// holds only what the file means: no ranges, comments or layout.
std::string dump(const Module &module, const SourceManager &sources, bool positions = true);

} // namespace expc::ast
