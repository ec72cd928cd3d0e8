// The front end's first stage: UTF-8 validation, lexing and parsing with the
// ANTLR-generated recogniser (grammar/Exp.g4), then building the AST.
// Every problem becomes a diagnostic; nothing here throws or aborts.
#pragma once

#include "ast/AST.h"
#include "diagnostics/Diagnostics.h"

#include <optional>

namespace expc {

// Parses one file already registered with the source manager. Returns the AST
// when the file is free of lexical and syntax errors, std::nullopt otherwise
// (with every error reported to `diags`).
std::optional<ast::Module> parseFile(FileId file, const SourceManager &sources,
                                     DiagnosticEngine &diags);

// Parses the expression that starts at byte `offset` of a buffer and runs to
// its end (a command-line override's value, after `key=`).
ast::ExprPtr parseExpression(FileId file, const SourceManager &sources, DiagnosticEngine &diags,
                             size_t offset = 0);

} // namespace expc
