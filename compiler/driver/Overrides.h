// Hydra-style command-line overrides: `exp run f.exp lr=3e-4
// main.optimizer.lr=1e-3 vit.variant="B"`. Each replaces (or adds) one value
// in the root module's AST before checking, so an override is type-checked
// exactly like source; diagnostics point into the override text.
//
//   NAME=VALUE                      a `param`
//   DECL.KEY=VALUE                  a setting of DECL's block, or a named
//                                   argument of DECL's call
//   DECL.KEY.ARG...=VALUE           a named argument of a call inside it
#pragma once

#include "ast/AST.h"
#include "diagnostics/Diagnostics.h"

#include <string>
#include <vector>

namespace expc {

bool applyOverrides(const std::vector<std::string> &overrides, ast::Module &root,
                    SourceManager &sources, DiagnosticEngine &diags);

} // namespace expc
