// Semantic analysis: name resolution (with "did you mean"), import checks,
// argument binding against stdlib signatures, constant folding, range checks,
// types and shapes (channels, embedding widths, label classes), modality
// compatibility of objectives and metrics. Reports every error it finds, then
// exposes side tables that IR generation reads.
#pragma once

#include "ast/AST.h"
#include "diagnostics/Diagnostics.h"
#include "sema/Builtins.h"
#include "sema/Types.h"

#include <map>
#include <set>
#include <unordered_map>

namespace expc {

// A call bound to a stdlib signature (or a block bound to its settings).
struct BoundCall {
  const Builtin *builtin = nullptr;
  std::vector<const ast::Expr *> args; // per parameter; null when defaulted
  std::vector<Value> values;           // per parameter; None when not constant
  std::vector<SourceRange> ranges;     // per parameter; where it was given

  const Value &value(const std::string &param) const;
  const ast::Expr *arg(const std::string &param) const;
  SourceRange range(const std::string &param) const;
};

struct ExprInfo {
  Type type;
  Value constant;                      // None when not a constant
  const ast::Decl *decl = nullptr;     // Name: the declaration it refers to
  const Builtin *builtin = nullptr;    // Name or Call of a stdlib function
  const ast::Decl *dataset = nullptr;  // columns and embeddings: their dataset
  std::string column;                  // dataset member: the column name
  const ast::Decl *encoder = nullptr;  // encoder application: the encoder
  const ast::Expr *input = nullptr;    // encoder application: its argument
};

struct DeclInfo {
  enum class State { Unchecked, InProgress, Done } state = State::Unchecked;
  Type type;
  BoundCall call; // dataset source, encoder, metric, or train settings
};

class Sema {
public:
  Sema(const ast::Module &module, const SourceManager &sources,
       DiagnosticEngine &diags);

  // Checks the whole module; true when it is free of errors.
  bool check();

  const ast::Module &module() const { return module_; }
  const ExprInfo &info(const ast::Expr &e) const;
  const DeclInfo &info(const ast::Decl &d) const;
  // The binding of a stdlib call inside an expression (objectives, metrics).
  const BoundCall *boundCall(const ast::Expr &call) const;
  const ast::Decl *trainDecl() const { return train_; }

private:
  struct Arg {
    std::string name;
    SourceRange nameRange;
    const ast::Expr *value;
  };

  static std::vector<Arg> callArgs(const ast::Expr &call);
  // Binds a declaration whose value must call a stdlib function of `kind`.
  bool bindDeclValue(const ast::Decl &d, BuiltinKind kind, const char *wanted, DeclInfo &info);
  void checkImports();
  void collectDecls();
  const DeclInfo &checkDecl(const ast::Decl &d);
  void checkDataset(const ast::Decl &d, DeclInfo &info);
  void checkEncoder(const ast::Decl &d, DeclInfo &info);
  void checkEvaluate(const ast::Decl &d, DeclInfo &info);
  void checkTrain(const ast::Decl &d, DeclInfo &info);
  void rejectSettings(const ast::Decl &d);
  const Builtin *calleeBuiltin(const ast::Expr &call, BuiltinKind kind,
                               const ast::Decl &d, const char *wanted);

  const ExprInfo &checkExpr(const ast::Expr &e);
  ExprInfo checkName(const ast::Expr &e);
  ExprInfo checkMember(const ast::Expr &e);
  ExprInfo checkCall(const ast::Expr &e);
  ExprInfo checkBinary(const ast::Expr &e);
  ExprInfo applyEncoder(const ast::Expr &call, const ast::Decl &encoder);

  BoundCall bind(const Builtin &b, const std::vector<Arg> &args,
                 SourceRange where, bool settings);
  bool checkParam(const Builtin &b, const ParamSpec &p, const ast::Expr &e,
                  Value &out, bool settings);
  void checkObjective(const ast::Expr &call, const BoundCall &bc);
  void checkMetric(const ast::Expr &call, const BoundCall &bc);
  bool sameDataset(const std::string &what, const ast::Expr &a,
                   const ast::Expr &b);

  std::vector<std::string> visibleNames() const;

  const ast::Module &module_;
  const SourceManager &sources_;
  DiagnosticEngine &diags_;
  std::set<std::string> importedModules_;
  std::map<std::string, const ast::Decl *> decls_;
  std::unordered_map<const ast::Decl *, DeclInfo> declInfo_;
  std::unordered_map<const ast::Expr *, ExprInfo> exprInfo_;
  std::unordered_map<const ast::Expr *, BoundCall> calls_;
  const ast::Decl *train_ = nullptr;
};

// Columns a dataset source provides, typed from its bound parameters.
std::vector<std::pair<std::string, Type>> datasetColumns(const BoundCall &source);

} // namespace expc
