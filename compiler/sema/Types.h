// Types and constant values of the .exp language.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace expc {

enum class TypeKind {
  Error, // already reported; suppresses follow-on errors
  Int,
  Float,
  Bool,
  String,
  List,
  Dataset,
  Images,    // channels x height x width
  Labels,    // a categorical column with `classes` values
  Embedding, // a vector of width `dim`
  Encoder,   // input -> output
  Loss,
  Optimizer,
  Metric,
  Builtin, // a callable from the standard library
};

struct Type {
  TypeKind kind = TypeKind::Error;
  int64_t channels = 0, height = 0, width = 0; // Images
  int64_t classes = 0;                         // Labels
  int64_t dim = 0;                             // Embedding
  std::shared_ptr<const Type> elem;            // List element
  std::shared_ptr<const Type> input, output;   // Encoder

  static Type of(TypeKind k) {
    Type t;
    t.kind = k;
    return t;
  }
  static Type images(int64_t c, int64_t h, int64_t w);
  static Type labels(int64_t classes);
  static Type embedding(int64_t dim);
  static Type list(Type elem);
  static Type encoder(Type in, Type out);

  bool isError() const { return kind == TypeKind::Error; }
  bool isNumber() const { return kind == TypeKind::Int || kind == TypeKind::Float; }
  // "an integer", "images of 3 channels, 32x32", "an embedding of width 64"...
  std::string describe() const;
};

// A compile-time constant: the value of a literal, a setting or an argument.
struct Value {
  enum class Kind { None, Int, Float, Bool, String, List } kind = Kind::None;
  int64_t i = 0;
  double f = 0;
  bool b = false;
  std::string s;
  std::vector<Value> list;

  static Value ofInt(int64_t v) { Value x; x.kind = Kind::Int; x.i = v; x.f = double(v); return x; }
  static Value ofFloat(double v) { Value x; x.kind = Kind::Float; x.f = v; return x; }
  static Value ofBool(bool v) { Value x; x.kind = Kind::Bool; x.b = v; return x; }
  static Value ofString(std::string v) { Value x; x.kind = Kind::String; x.s = std::move(v); return x; }
  bool isNone() const { return kind == Kind::None; }
  double number() const { return kind == Kind::Int ? double(i) : f; }
  std::string str() const; // source-like rendering
};

} // namespace expc
