// The local environment of a network body or of a call being bound: parameter
// values, shape variables and `let` bindings, with a parent for nested scopes.
#pragma once

#include "sema/Sema.h"

namespace expc {

struct Sema::Env {
  std::map<std::string, ValPtr> vars;
  // Where each shape variable got its value ("argument `a`"), for notes.
  std::map<std::string, std::pair<std::string, SourceRange>> boundBy;
  Env *parent = nullptr;
  // The dims a `...` pattern captured, when it did.
  std::vector<int64_t> rest;
  bool haveRest = false;
  // The argument being matched, for "bound by" notes.
  std::string matching;
  SourceRange matchingAt;

  ValPtr find(const std::string &name) const {
    for (const Env *e = this; e; e = e->parent) {
      auto it = e->vars.find(name);
      if (it != e->vars.end())
        return it->second;
    }
    return nullptr;
  }
};

} // namespace expc
