// Archives through libarchive: zip (numpy's .npz) and tar, plain or
// compressed (WebDataset shards). Entries are visited in stored order.
#pragma once

#include "exprt/Status.h"

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace exprt {

// Calls `visit(name, bytes)` for each regular file in `path`; `visit`
// returns false to stop early. A truncated or corrupt archive is an error
// naming the archive and the entry it was reading.
Status readArchive(const std::string &path,
                   const std::function<bool(const std::string &name, const std::string &bytes)> &visit);

// Calls `visit(name)` for each regular file, skipping the data (an index of
// a WebDataset shard).
Status listArchive(const std::string &path, const std::function<void(const std::string &name)> &visit);

// Writes `entries` (name -> bytes) as a tar file, atomically.
Status writeTar(const std::string &path, const std::vector<std::pair<std::string, std::string>> &entries);

} // namespace exprt
