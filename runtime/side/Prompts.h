// Text side information: a prompt per row from a template over the
// dataset's metadata columns (CellCLIP's "{cell_type} cells treated with
// compound: {name}, SMILES: {smiles}"), then WordPiece (side/WordPiece.h).
#pragma once

#include "exprt/Status.h"

#include <map>
#include <string>
#include <vector>

namespace exprt {

// `tmpl` with each `{column}` replaced by that column's value in `row`;
// `{{` and `}}` are literal braces. A placeholder naming no column (the
// compiler checks declared columns; this guards the reader's) or an
// unclosed `{` is an error naming it and listing the columns.
Status renderTemplate(const std::string &tmpl, const std::map<std::string, std::vector<std::string>> &columns,
                      size_t row, std::string &out);

// The columns `tmpl`'s placeholders name, in order of first appearance
// (`{{` is a literal brace, not a placeholder).
std::vector<std::string> templateColumns(const std::string &tmpl);

} // namespace exprt
