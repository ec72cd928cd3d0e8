#include "prep/Workers.h"

#include <torch/torch.h>

#include <algorithm>
#include <thread>
#include <vector>

namespace exprt {

void runWorkers(int threads, const std::function<void()> &work) {
  const int before = torch::get_num_threads();
  torch::set_num_threads(1);
  std::vector<std::thread> pool;
  for (int t = 1; t < std::max(1, threads); ++t)
    pool.emplace_back(work);
  work();
  for (auto &t : pool)
    t.join();
  torch::set_num_threads(before);
}

} // namespace exprt
