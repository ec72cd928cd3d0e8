#include "data/Pairing.h"

#include <algorithm>

namespace exprt {

GroupSampler::GroupSampler(std::vector<std::vector<int64_t>> keys,
                           const std::vector<int64_t> &candidates)
    : keys_(std::move(keys)), groups_(keys_.size()) {
  for (size_t level = 0; level < keys_.size(); ++level) {
    for (int64_t row : candidates)
      groups_[level][keys_[level][row]].push_back(row);
    for (auto &[key, members] : groups_[level])
      std::sort(members.begin(), members.end());
  }
}

int64_t GroupSampler::draw(int64_t row, uint64_t random) const {
  for (size_t level = 0; level < keys_.size(); ++level) {
    auto it = groups_[level].find(keys_[level][row]);
    if (it == groups_[level].end())
      continue;
    const std::vector<int64_t> &members = it->second; // ascending
    bool self = std::binary_search(members.begin(), members.end(), row);
    size_t n = members.size() - (self ? 1 : 0);
    if (n == 0)
      continue;
    size_t k = static_cast<size_t>(random % n);
    // The k-th member, skipping `row` itself.
    auto at = members.begin() + static_cast<std::ptrdiff_t>(k);
    if (self && *at >= row)
      ++at;
    return *at;
  }
  return -1;
}

} // namespace exprt
