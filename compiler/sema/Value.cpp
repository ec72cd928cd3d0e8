#include "sema/Value.h"

#include "ast/AST.h"

#include <fmt/format.h>

namespace expc {

int modalityRank(const std::string &m) {
  if (m == "images")
    return 3;
  if (m == "tokens")
    return 2;
  if (m == "vector" || m == "labels" || m == "graph" || m == "kgraph")
    return 1;
  if (m == "text" || m == "molecules")
    return 0;
  return -1; // tensor
}

bool isModality(const std::string &name) {
  return name == "tensor" || modalityRank(name) >= 0;
}

std::vector<Placeholder> templatePlaceholders(const std::string &text) {
  std::vector<Placeholder> out;
  for (size_t k = 0; k < text.size(); ++k) {
    if (text[k] == '{' && k + 1 < text.size() && text[k + 1] == '{') {
      ++k;
      continue;
    }
    if (text[k] != '{')
      continue;
    size_t end = text.find('}', k);
    out.push_back({k, text.substr(k + 1, end == std::string::npos ? std::string::npos : end - k - 1),
                   end != std::string::npos});
    if (end == std::string::npos)
      break;
    k = end;
  }
  return out;
}

static std::string dim(int64_t d) { return d == kUnknownDim ? "?" : std::to_string(d); }

std::string DataType::describe() const {
  size_t lead = dims.size() - std::min(core, dims.size());
  std::string inner = modality;
  if (modality == "tensor" || modalityRank(modality) > 0) {
    std::vector<std::string> parts;
    for (size_t k = modality == "tensor" ? 0 : lead; k < dims.size(); ++k)
      parts.push_back(dim(dims[k]));
    inner += "[" + fmt::format("{}", fmt::join(parts, ", ")) + "]";
  }
  if (modality == "tensor")
    return inner;
  for (size_t k = lead; k-- > 0;)
    inner = fmt::format("bag[{}, {}]", dim(dims[k]), inner);
  return inner;
}

bool Val::isConstant() const {
  switch (kind) {
  case VK::None:
  case VK::Int:
  case VK::Float:
  case VK::Bool:
  case VK::String:
    return true;
  case VK::List:
  case VK::Record:
    for (const ValPtr &v : items)
      if (!v->isConstant())
        return false;
    return true;
  default:
    return false;
  }
}

const Val *Val::field(const std::string &key) const {
  for (size_t k = 0; k < keys.size(); ++k)
    if (keys[k] == key)
      return items[k].get();
  return nullptr;
}

const Val *Val::arg(const std::string &name) const {
  auto it = args.find(name);
  return it == args.end() ? nullptr : it->second.get();
}

std::string Val::str() const {
  switch (kind) {
  case VK::Int:
    return std::to_string(i);
  case VK::Float:
    return fmt::format("{}", f);
  case VK::Bool:
    return b ? "true" : "false";
  case VK::String:
    return "\"" + s + "\"";
  case VK::None:
    return "none";
  case VK::List: {
    std::vector<std::string> parts;
    for (const ValPtr &v : items)
      parts.push_back(v->str());
    return "[" + fmt::format("{}", fmt::join(parts, ", ")) + "]";
  }
  case VK::Record: {
    std::vector<std::string> parts;
    for (size_t k = 0; k < items.size(); ++k)
      parts.push_back(keys[k] + " = " + items[k]->str());
    return "{" + fmt::format("{}", fmt::join(parts, ", ")) + "}";
  }
  default:
    return describe();
  }
}

std::string Val::describe() const {
  switch (kind) {
  case VK::Error: return "an invalid value";
  case VK::None: return "`none`";
  case VK::Int: return "an integer";
  case VK::Float: return "a number";
  case VK::Bool: return "a boolean";
  case VK::String: return "a string";
  case VK::List: return "a list";
  case VK::Record: return "a record";
  case VK::Type: return "a type";
  case VK::Namespace: return "a module";
  case VK::Callable:
    return decl && decl->kind == ast::DeclKind::Network ? fmt::format("network `{}`", decl->name)
                                                         : fmt::format("`{}`", decl ? decl->name : "?");
  case VK::Encoder: return fmt::format("an encoder (`{}`)", decl ? decl->name : "?");
  case VK::Dataset: return split == "held_out" ? "the held-out split of a dataset" : "a dataset";
  case VK::Data:
    return type.describe();
  case VK::Object: {
    bool vowel = !s.empty() && std::string("aeiou").find(s[0]) != std::string::npos;
    return fmt::format("{} {}", vowel ? "an" : "a", s);
  }
  }
  return "a value";
}

ValPtr makeError() {
  static ValPtr e = std::make_shared<Val>();
  return e;
}
static ValPtr scalar(VK k, SourceRange at) {
  auto v = std::make_shared<Val>();
  v->kind = k;
  v->origin = at;
  return v;
}
ValPtr makeInt(int64_t x, SourceRange at) {
  auto v = std::const_pointer_cast<Val>(scalar(VK::Int, at));
  v->i = x;
  v->f = double(x);
  return v;
}
ValPtr makeFloat(double x, SourceRange at) {
  auto v = std::const_pointer_cast<Val>(scalar(VK::Float, at));
  v->f = x;
  return v;
}
ValPtr makeBool(bool x, SourceRange at) {
  auto v = std::const_pointer_cast<Val>(scalar(VK::Bool, at));
  v->b = x;
  return v;
}
ValPtr makeString(std::string x, SourceRange at) {
  auto v = std::const_pointer_cast<Val>(scalar(VK::String, at));
  v->s = std::move(x);
  return v;
}
ValPtr makeNone(SourceRange at) { return scalar(VK::None, at); }

const DataType *DatasetInfo::column(const std::string &name) const {
  for (const auto &[n, t] : columns)
    if (n == name)
      return &t;
  return nullptr;
}

} // namespace expc
