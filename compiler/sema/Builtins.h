// The standard library's built-in callables: their module, parameters with
// types, defaults and ranges. Sema binds calls against these signatures; the
// lowering instantiates them. docs/stdlib.md documents each one.
#pragma once

#include "sema/Types.h"

#include <limits>
#include <string>
#include <vector>

namespace expc {

enum class BuiltinKind { DatasetSource, Encoder, Objective, Optimizer, Metric, Train };

enum class ParamType {
  Int,
  Float,
  Bool,
  String,
  IntList,
  Embedding, // an encoder applied to a column
  Column,    // a labels column of a dataset
  Loss,
  Optimizer,
};

struct Range {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool minOpen = false, maxOpen = false;
  bool contains(double v) const;
  std::string describe() const; // "a value > 0", "between 1 and 64"
};

struct ParamSpec {
  const char *name;
  ParamType type;
  bool required = false;
  Value def;   // when not required
  Range range; // for Int, Float and each IntList element
  const char *doc = "";
};

struct Builtin {
  const char *name;
  const char *module; // "std.encoders"
  BuiltinKind kind;
  std::vector<ParamSpec> params;
  const char *doc;

  const ParamSpec *param(const std::string &n) const;
  int paramIndex(const std::string &n) const;
};

const std::vector<Builtin> &builtins();
const Builtin *findBuiltin(const std::string &name);
// The settings a `train` block takes, as a pseudo-builtin.
const Builtin &trainSettings();
// Names of the standard library's modules ("std.data", ...).
std::vector<std::string> stdModules();

} // namespace expc
