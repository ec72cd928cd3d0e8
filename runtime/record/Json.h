// Writing run-record files safely.
#pragma once

#include "exprt/Runtime.h"

#include <string>

namespace exprt {

// Writes `contents` to `path` through a temporary file in the same directory
// and a rename, so readers never see a partial file.
Status writeFileAtomic(const std::string &path, const std::string &contents);

} // namespace exprt
