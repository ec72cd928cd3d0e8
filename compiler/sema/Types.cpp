#include "sema/Types.h"

#include <fmt/format.h>

namespace expc {

Type Type::images(int64_t c, int64_t h, int64_t w) {
  Type t = of(TypeKind::Images);
  t.channels = c;
  t.height = h;
  t.width = w;
  return t;
}
Type Type::labels(int64_t classes) {
  Type t = of(TypeKind::Labels);
  t.classes = classes;
  return t;
}
Type Type::embedding(int64_t dim) {
  Type t = of(TypeKind::Embedding);
  t.dim = dim;
  return t;
}
Type Type::list(Type elem) {
  Type t = of(TypeKind::List);
  t.elem = std::make_shared<Type>(std::move(elem));
  return t;
}
Type Type::encoder(Type in, Type out) {
  Type t = of(TypeKind::Encoder);
  t.input = std::make_shared<Type>(std::move(in));
  t.output = std::make_shared<Type>(std::move(out));
  return t;
}

std::string Type::describe() const {
  switch (kind) {
  case TypeKind::Error: return "an invalid value";
  case TypeKind::Int: return "an integer";
  case TypeKind::Float: return "a number";
  case TypeKind::Bool: return "a boolean";
  case TypeKind::String: return "a string";
  case TypeKind::List: return elem ? "a list of " + elem->describe() : "a list";
  case TypeKind::Dataset: return "a dataset";
  case TypeKind::Images:
    if (height > 0)
      return fmt::format("images of {} channels, {}x{}", channels, height, width);
    return fmt::format("images of {} channels", channels);
  case TypeKind::Labels: return fmt::format("labels of {} classes", classes);
  case TypeKind::Embedding: return fmt::format("an embedding of width {}", dim);
  case TypeKind::Encoder: return "an encoder";
  case TypeKind::Loss: return "a loss";
  case TypeKind::Optimizer: return "an optimizer";
  case TypeKind::Metric: return "a metric";
  case TypeKind::Builtin: return "a library function";
  }
  return "a value";
}

std::string Value::str() const {
  switch (kind) {
  case Kind::None: return "none";
  case Kind::Int: return std::to_string(i);
  case Kind::Float: return fmt::format("{}", f);
  case Kind::Bool: return b ? "true" : "false";
  case Kind::String: return "\"" + s + "\"";
  case Kind::List: {
    std::string out = "[";
    for (size_t k = 0; k < list.size(); ++k)
      out += (k ? ", " : "") + list[k].str();
    return out + "]";
  }
  }
  return "?";
}

} // namespace expc
