// `exp fmt`: canonical formatting of .exp source, gofmt-style. The user's line
// breaks are kept (runs of blank lines collapse to one); indentation comes from
// bracket nesting (2 spaces per level); spacing within a line is canonical
// (one space around binary operators and `=`, after `,` `:` `;`, none inside
// brackets); comments are kept verbatim. Works on tokens, so it is idempotent
// and never changes what a file means.
#pragma once

#include "diagnostics/SourceManager.h"

#include <string>

namespace expc {

// The formatted text of a file that parses (callers check with parseFile
// first, so no character the lexer would drop can be lost).
std::string formatSource(FileId file, const SourceManager &sources);

} // namespace expc
