// Archives through libarchive: zip (numpy's .npz) and tar, plain or
// compressed (WebDataset shards). Entries are visited in stored order.
#pragma once

#include "exprt/Runtime.h"

#include <functional>
#include <string>

namespace exprt {

// Calls `visit(name, bytes)` for each regular file in `path`; `visit`
// returns false to stop early. A truncated or corrupt archive is an error
// naming the archive and the entry it was reading.
Status readArchive(const std::string &path,
                   const std::function<bool(const std::string &name, const std::string &bytes)> &visit);

} // namespace exprt
