// Writing run-record files safely.
#pragma once

#include "exprt/Status.h"

#include <string>

namespace exprt {

// Writes `contents` to `path` through a temporary file in the same directory
// and a rename, so readers never see a partial file.
// The file is synced before the rename; errors carry the system's reason
// ("No space left on device").
Status writeFileAtomic(const std::string &path, const std::string &contents);

// Reads the whole of `path` into `out`; false when it cannot be opened.
bool readFile(const std::string &path, std::string &out);

// Makes renames and removals in `dir` durable.
Status syncDirectory(const std::string &dir);

} // namespace exprt
