// The compile-time values of the .exp language.
//
// Semantic analysis elaborates a file: it evaluates every declaration to a
// value. Constants (numbers, strings, lists, records) are values; so are the
// things an experiment is made of, which are symbolic: a dataset, a column or
// side-information feature of it (per-row data with a modality and a shape),
// an encoder with its configuration bound, a tensor inside a network body, a
// loss, an optimizer. Types are patterns over these values (see Types.cpp);
// the elaborated values form the experiment graph IR generation reads.
#pragma once

#include "diagnostics/SourceManager.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace expc {

namespace ast {
struct Decl;
struct Expr;
} // namespace ast

struct Val;
using ValPtr = std::shared_ptr<const Val>;

// An unknown extent (a class count only the data knows); unifies with any.
constexpr int64_t kUnknownDim = -1;

// The type of per-row data or of a tensor inside a network: a modality and a
// shape. The last `core` dims belong to the modality (3 for images); any dims
// before them are bag/batch dims added by mapping a network over a bag.
struct DataType {
  std::string modality; // images, vector, tokens, labels, text, molecules, graph, tensor, kgraph
  std::vector<int64_t> dims;
  size_t core = 0;
  std::string describe() const; // "images[5, 224, 224]", "bag[6, vector[768]]"
  bool operator==(const DataType &o) const {
    return modality == o.modality && dims == o.dims && core == o.core;
  }
};

// Number of dims each modality owns; -1 for `tensor` (any).
int modalityRank(const std::string &modality);
bool isModality(const std::string &name);

// The `{column}` placeholders of a `template` string, in order: where each
// opens and the name inside. `{{` is a literal brace; an unclosed `{` names
// the rest of the string (closed = false) and ends the list.
struct Placeholder {
  size_t at;
  std::string name;
  bool closed;
};
std::vector<Placeholder> templatePlaceholders(const std::string &text);

struct DatasetInfo;
struct NetGraph;

enum class VK {
  Error,     // already reported; suppresses follow-on errors
  None,      // `none`
  Int,
  Float,
  Bool,
  String,
  List,
  Record,
  Type,      // a type written as an expression (held as its AST)
  Namespace, // an imported module
  Callable,  // a network or extern, not applied
  Encoder,   // a network or encoder extern with its configuration bound
  Dataset,   // a dataset or one of its splits
  Data,      // per-row data, a tensor in a network, or a knowledge graph
  Object,    // what other externs return: loss, optimizer, schedule, metric, ...
};

struct Val {
  VK kind = VK::Error;
  SourceRange origin; // where this value was made (for notes and locations)

  int64_t i = 0;
  double f = 0;
  bool b = false;
  std::string s; // String; Object: its type name (`loss`, ...); Dataset: split
  std::vector<ValPtr> items;      // List, Record (values)
  std::vector<std::string> keys;  // Record

  // Callable and Encoder: the network or extern declaration.
  const ast::Decl *decl = nullptr;
  // Encoder and Object: the arguments bound so far, by parameter name.
  std::map<std::string, ValPtr> args;
  // Encoder: the `encoder` declaration that names it (for IR symbols).
  const ast::Decl *named = nullptr;
  // Namespace: the module's index in the module set.
  int module = -1;
  // Type: the type expression.
  const ast::Expr *typeExpr = nullptr;

  // Data.
  DataType type;
  const DatasetInfo *dataset = nullptr; // the dataset rows come from; null in networks
  std::string split;                    // "train", "held_out" or "all"
  std::string column;                   // a dataset column
  const ast::Decl *side = nullptr;      // side information declaration
  ValPtr encoder;                       // produced by applying this encoder...
  std::vector<std::pair<std::string, ValPtr>> inputs; // ...to these inputs
  bool perRow = true;                   // false for knowledge graphs
  bool trainable = true;                // Encoder: false when frozen
  // In a network body being instantiated: the node of the body's layer graph
  // that computes this tensor (sema/NetGraph.h).
  int node = -1;
  // An encoder applied outside networks: the layer graph of the instantiation.
  std::shared_ptr<const NetGraph> graph;

  // Object `loss` built by `+`, `-`, `*`: weighted terms.
  std::vector<std::pair<double, ValPtr>> terms;

  bool isError() const { return kind == VK::Error; }
  bool isNumber() const { return kind == VK::Int || kind == VK::Float; }
  double number() const { return kind == VK::Int ? double(i) : f; }
  bool isConstant() const; // scalars and lists/records of them
  const Val *field(const std::string &key) const; // Record
  const Val *arg(const std::string &name) const;  // Encoder/Object
  std::string str() const;      // source-like rendering of a constant
  std::string describe() const; // "an integer", "images[3, 32, 32]", "a loss"
};

ValPtr makeError();
ValPtr makeInt(int64_t v, SourceRange at = {});
ValPtr makeFloat(double v, SourceRange at = {});
ValPtr makeBool(bool v, SourceRange at = {});
ValPtr makeString(std::string v, SourceRange at = {});
ValPtr makeNone(SourceRange at = {});

// A dataset declaration once checked: its source call and columns.
struct DatasetInfo {
  const ast::Decl *decl = nullptr;
  ValPtr source; // Object `dataset_source`: the extern and its arguments
  std::vector<std::pair<std::string, DataType>> columns;
  // hold_out / keep / drop: column -> values (as source-like strings).
  std::map<std::string, std::vector<std::string>> holdOut, keep, drop;
  std::map<std::string, SourceRange> holdOutRange;
  ValPtr augment; // the `augment` setting: an `augmentations(...)` call, or none
  ValPtr stages;  // profile tables: the `stages` setting, a list of stage calls
  double valFraction = 0; // training rows kept aside for validation
  // hold_out_fraction: groups of `splitBy` held out at random, within each
  // value of `stratify` ("" = none); 0 = the source's split or hold_out.
  double holdOutFraction = 0;
  std::string splitBy = "well", stratify;
  int64_t bag = 1;        // sites per bag (rows are wells when > 1)
  // Columns the source has only with `pairing = "micon"` (treated/control
  // pairs), when it is not set.
  std::vector<std::string> unpaired;
  const DataType *column(const std::string &name) const;
};

} // namespace expc
