// The abstract syntax tree of an .exp file. Plain data with source ranges; no
// meaning is attached here (that is sema's job). Expressions use one tagged
// node type so that passes over them are simple switch statements.
#pragma once

#include "diagnostics/SourceManager.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace expc::ast {

enum class ExprKind {
  Number, // number, isInteger
  String, // text (decoded)
  Bool,   // boolean
  Name,   // text
  Member, // operands[0] . text
  Call,   // operands[0] ( operands[1..] ), argNames
  List,   // [ operands... ]
  Neg,    // - operands[0]
  Binary, // operands[0] text operands[1]; text is one of + - * /
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
  // Call only: one entry per argument, "" for positional ones.
  std::vector<std::string> argNames;
  std::vector<SourceRange> argNameRanges;

  const Expr &callee() const { return *operands[0]; }
  size_t argCount() const { return operands.size() - 1; }
  const Expr &arg(size_t i) const { return *operands[i + 1]; }
};
using ExprPtr = std::unique_ptr<Expr>;

enum class DeclKind { Dataset, Encoder, Objective, Train, Evaluate };
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
  ExprPtr value; // may be null
  std::vector<Setting> settings;
  std::string doc; // `///` comments above the declaration
};

struct Import {
  std::vector<std::string> path; // std.encoders -> {"std", "encoders"}
  SourceRange range;
  std::string dotted() const;
};

struct Module {
  FileId file = 0;
  std::vector<Import> imports;
  std::vector<Decl> decls;
};

// Human-readable dump for `exp compile --emit=ast`.
std::string dump(const Module &module, const SourceManager &sources);

} // namespace expc::ast
