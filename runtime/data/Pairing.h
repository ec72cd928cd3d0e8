// Paired sampling (MICON): for each treated row, a control row from the same
// plate, falling back to the same batch, the same source, then any; and a
// second treated row of the same perturbation. Draws are functions of a
// seed and the row, so they do not depend on batching or threads.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

namespace exprt {

class GroupSampler {
public:
  // `keys[level][row]`: the row's group at each level, most specific first
  // (plate, batch, source, split); `candidates`: the rows that may be drawn.
  GroupSampler(std::vector<std::vector<int64_t>> keys, const std::vector<int64_t> &candidates);
  GroupSampler() = default;

  // A candidate other than `row` in row's group at the first level where
  // there is one, chosen by `random` (uniform over that group); -1 if none.
  int64_t draw(int64_t row, uint64_t random) const;

private:
  std::vector<std::vector<int64_t>> keys_;
  std::vector<std::map<int64_t, std::vector<int64_t>>> groups_; // per level
};

} // namespace exprt
