// Semantic analysis: elaborates the root module of a module set into the
// experiment graph, checking as it goes.
//
//   - names: module scopes, imports (namespaces and `.{names}`), locals in
//     network bodies; "did you mean" and "not imported" hints;
//   - calls: arguments bound to the parameters of networks and externs (the
//     stdlib's signatures, written in .exp), checked against their types and
//     constraints; shape variables unify (`clip(a: vector[d], b: vector[d])`);
//   - networks: instantiated with their configuration, shapes inferred layer
//     by layer through repetition and residual connections;
//   - the experiment: datasets and their splits, side information, encoders,
//     objectives, training and evaluation settings, split leakage.
// Every error is reported; evaluation continues with an error value that
// suppresses follow-on errors.
#pragma once

#include "ast/AST.h"
#include "diagnostics/Diagnostics.h"
#include "imports/Imports.h"
#include "sema/NetGraph.h"
#include "sema/Value.h"

#include <map>
#include <memory>
#include <set>
#include <unordered_map>

namespace expc {

// One `sweep` expression's space of values, as elaboration found it.
struct SweepSpace {
  const ast::Expr *expr = nullptr;
  bool grid = true;       // `sweep [a, b, c]`
  size_t count = 0;       // grid: the number of values
  std::string dist;       // random: uniform, log_uniform, int_uniform, choice
  double lo = 0, hi = 0;  // random: the bounds (choice: 0 and count)
};
// The value chosen for each `sweep` expression at one sweep point: a grid
// index or a random sample.
struct SweepChoice {
  int index = -1;
  ValPtr sample;
};
using SweepPoint = std::map<const ast::Expr *, SweepChoice>;

class Sema {
public:
  Sema(const ModuleSet &modules, const SourceManager &sources, DiagnosticEngine &diags);
  ~Sema();

  // Checks the root module (index 0) under one sweep point (empty: each
  // sweep takes its first value); true when free of errors.
  bool check(const SweepPoint &point = {});

  const ModuleSet &modules() const { return modules_; }
  const ast::Module &root() const { return modules_.module(0).ast; }
  // The value of a root-module declaration after check().
  ValPtr value(const ast::Decl &d) const;
  const DatasetInfo *dataset(const ast::Decl &d) const;
  const ast::Decl *trainDecl() const { return train_; }
  // Every `sweep` expression met, in evaluation order, for point enumeration.
  const std::vector<SweepSpace> &sweeps() const { return sweeps_; }

  struct Env;

private:
  struct Binding {
    const ast::Decl *decl = nullptr;
    int module = -1;    // where decl lives
    int ns = -1;        // a namespace binding: the module it names
    SourceRange where;  // the import that made it visible
  };
  struct DeclState {
    enum { Unchecked, InProgress, Done } state = Unchecked;
    ValPtr value;
    int module = -1;
  };
  struct Arg {
    std::string name;
    SourceRange nameRange;
    SourceRange range;
    ValPtr value;
  };
  struct Bound {
    std::map<std::string, ValPtr> args;
    std::map<std::string, SourceRange> ranges;
  };

  // Sema.cpp: scopes and declarations.
  void buildScopes();
  ValPtr checkDecl(const ast::Decl &d);
  ValPtr lookup(const ast::Expr &name, const Env *env, int module);
  std::vector<std::string> visibleNames(const Env *env, int module) const;
  std::string stdModuleDefining(const std::string &name) const;
  const ast::Decl *coreBlock(const char *name) const;

  // Experiment.cpp: the declarations of an experiment.
  ValPtr checkParamDecl(const ast::Decl &d, int module);
  ValPtr checkDataset(const ast::Decl &d, int module);
  // checkDataset's parts: a `hold_out` / `keep` / `drop` record, the
  // `split_by` / `stratify` columns, and the selections against each other.
  bool readSelection(const ast::Decl &d, DatasetInfo &info, const Val &settings, const char *key,
                     std::map<std::string, std::vector<std::string>> &out);
  bool readSplitColumns(const ast::Decl &d, DatasetInfo &info, const Val &settings);
  bool checkSelections(const ast::Decl &d, DatasetInfo &info);
  ValPtr checkSide(const ast::Decl &d, int module);
  ValPtr checkEncoder(const ast::Decl &d, int module);
  ValPtr checkObjective(const ast::Decl &d, int module);
  ValPtr checkTrain(const ast::Decl &d, int module);
  ValPtr checkEvaluate(const ast::Decl &d, int module);
  ValPtr checkSweepDecl(const ast::Decl &d, int module);
  ValPtr bindBlock(const ast::Decl &d, const char *block, int module);
  ValPtr externCallValue(const ast::Decl &d, int module, const char *kind, const char *wanted);
  void rejectSettings(const ast::Decl &d);
  void checkLeakage();
  void collectData(const ValPtr &v, std::vector<const Val *> &out,
                   std::set<const Val *> &seen) const;

  // Expressions.cpp: evaluation.
  ValPtr eval(const ast::Expr &e, Env *env, int module);
  ValPtr evalMember(const ast::Expr &e, Env *env, int module);
  ValPtr evalBinary(const ast::Expr &e, Env *env, int module);
  // evalBinary's parts: tensors in network bodies, and numbers folded.
  ValPtr tensorArith(const ast::Expr &e, const ValPtr &l, const ValPtr &r);
  ValPtr numberArith(const ast::Expr &e, const ValPtr &l, const ValPtr &r);
  ValPtr invalidOperands(const ast::Expr &e, const ValPtr &l, const ValPtr &r);
  ValPtr evalUnary(const ast::Expr &e, Env *env, int module);
  ValPtr evalCall(const ast::Expr &e, Env *env, int module);
  ValPtr evalSweep(const ast::Expr &e, Env *env, int module);
  ValPtr evalIntrinsic(const ast::Expr &e, const std::vector<Arg> &args);
  ValPtr lossArith(const ast::Expr &e, const ValPtr &l, const ValPtr &r);

  // Calls.cpp: binding and application of networks and externs.
  bool bindArgs(const ast::Decl &callee, const std::vector<Arg> &args, bool settings, Bound &out,
                const std::map<std::string, ValPtr> *prebound = nullptr);
  ValPtr apply(const ast::Decl &callee, int calleeModule, Bound bound, SourceRange where,
               ValPtr encoder = nullptr);
  // One application's state, shared by its steps (Calls.cpp).
  struct Call;
  bool bindConfiguration(Call &c, Env &env);
  bool bindInputs(Call &c, Env &env, std::vector<int64_t> &lead);
  bool bindMissing(Call &c, Env &env);
  bool sameRows(Call &c, const Env &env, const Val *&rows);
  ValPtr callResult(Call &c, Env &env, const std::vector<int64_t> &lead, std::shared_ptr<const NetGraph> &graph);
  bool checkTemplates(Call &c, const Env &env, const Val *table);
  bool isInputParam(const ast::Param &p) const;
  void traceCall(const ast::Decl &callee, const Env &env, const ValPtr &encoder,
                 const std::shared_ptr<const NetGraph> &graph, Val &r);
  std::shared_ptr<Val> makeEncoder(const ast::Decl &callee, int module, SourceRange where,
                                   const Env &env) const;

  // Types.cpp: type patterns.
  bool checkValue(const ast::Expr &type, const ValPtr &v, Env &env, int module,
                  const std::string &what, SourceRange at, ValPtr &out);
  // checkValue's parts: enumerations and unions; the named scalar and object
  // types; the error for a value of another type (false).
  bool checkEnum(const ast::Expr &type, const ValPtr &v, const std::string &what, SourceRange at);
  bool checkNamed(const ast::Expr &type, const std::string &name, const ValPtr &v, const std::string &what,
                  SourceRange at, ValPtr &out);
  bool typeMismatch(const ValPtr &v, const std::string &what, SourceRange at, const std::string &expected);
  // `v` with a class count the data would tell (`labels[?]`) taken from
  // `type` when the call's bindings know it.
  ValPtr refineClasses(const ast::Expr &type, const ValPtr &v, Env &env, int module);
  bool matchData(const ast::Expr &type, const Val &v, Env &env, int module,
                 std::vector<int64_t> *lead, const std::string &what, SourceRange at);
  // matchData's parts: `bag[m, T]`; the modality; the dimension patterns.
  struct DataMatch;
  bool matchBag(const DataMatch &m, Env &env, std::vector<int64_t> *lead);
  bool modalityFits(const DataMatch &m);
  bool matchDims(const DataMatch &m, std::vector<int64_t> dims, Env &env);
  ValPtr resultType(const ast::Expr &type, Env &env, int module, const std::vector<int64_t> &lead,
                    const ast::Decl &callee, SourceRange at);
  std::string describeRange(const ast::Param &p, Env &env, int module);
  std::string renderType(const ast::Expr &type, const Env *env) const;
  bool checkConstraint(const ast::Param &p, const ValPtr &v, Env &env, int module,
                       const std::string &what, SourceRange at);
  bool evalDim(const ast::Expr &e, Env &env, int module, int64_t &out);
  bool isDataType(const ast::Expr &type) const;

  // Networks.cpp: instantiation of network bodies.
  ValPtr instantiate(const ast::Decl &net, int module, Env &env, SourceRange where,
                     std::shared_ptr<const NetGraph> &graph);
  // Appends `node` to the graph of the body being instantiated (if any) as
  // the node computing `v`.
  void trace(NetNode node, Val &v);
  bool runStmts(const std::vector<ast::Stmt> &stmts, Env &env, int module, ValPtr &result);

  const ModuleSet &modules_;
  const SourceManager &sources_;
  DiagnosticEngine &diags_;
  SweepPoint point_;

  std::vector<std::map<std::string, Binding>> scopes_; // per module
  std::unordered_map<const ast::Decl *, DeclState> decls_;
  std::unordered_map<const ast::Decl *, std::unique_ptr<DatasetInfo>> datasets_;
  struct Instance {
    ValPtr result;
    std::shared_ptr<const NetGraph> graph;
  };
  std::map<std::string, Instance> instances_; // network instantiation cache
  std::vector<NetGraph *> trace_;             // graphs of the bodies being instantiated
  int nextGraphId_ = 0;
  std::vector<SweepSpace> sweeps_;
  size_t instantiationDepth_ = 0;
  const ast::Decl *train_ = nullptr;
  int coreModule_ = -1;
  // Statements network instantiation may run (bounds nested `repeat`s).
  static constexpr int64_t kStepBudget = 200000;
  int64_t stepBudget_ = kStepBudget;
};

} // namespace expc
