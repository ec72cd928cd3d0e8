// The compile cache: plans stored by a key over everything that determines
// them — the compiler's build id, the normalised source (every loaded module's
// AST without positions or comments, so whitespace and comments do not
// matter), the resolved overrides, the emit options and the target. A change
// to the compiler changes its build id and so invalidates every entry.
#pragma once

#include "driver/FrontEnd.h"

#include <optional>
#include <string>

namespace expc {

// Hash of the normalised source and overrides of a checked front end.
std::string normalizedSourceHash(const FrontEnd &fe, const std::vector<std::string> &overrides);

// The cache key (hex SHA-256) for one compilation.
std::string compileCacheKey(const std::string &buildId, const std::string &normalizedHash,
                            const std::string &options, const std::string &target);

// $EXP_CACHE_DIR, else $XDG_CACHE_HOME/exp, else ~/.cache/exp.
std::string compileCacheDirectory();

// A cached plan, if present and readable.
std::optional<std::string> readCachedPlan(const std::string &key);
// Stores a plan atomically (temp file + rename); failures only cost a miss.
void writeCachedPlan(const std::string &key, const std::string &plan);

} // namespace expc
