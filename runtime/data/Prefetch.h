// Worker threads that build training batches ahead of the step that needs
// them (gathering rows, augmenting images) while the step computes. Batches
// are pure functions of their position, so results do not depend on the
// number of workers; with none, batches are built on the calling thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <torch/types.h>

namespace exprt {

using Batch = std::map<std::string, torch::Tensor>;

class BatchPrefetcher {
public:
  // `workers` threads keep up to `depth` batches in flight.
  BatchPrefetcher(int workers, int depth);
  // Waits for the batches being built; drops those not started.
  ~BatchPrefetcher();
  BatchPrefetcher(const BatchPrefetcher &) = delete;
  BatchPrefetcher &operator=(const BatchPrefetcher &) = delete;

  // Batch `index` (consecutive calls take consecutive indices from the same
  // `make`); builds ahead up to `last` (inclusive), not past it. An exception
  // thrown while building a batch is rethrown here.
  Batch take(int64_t index, int64_t last, const std::function<Batch(int64_t)> &make);

private:
  void work();

  int depth_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::packaged_task<Batch()>> queue_;
  std::map<int64_t, std::future<Batch>> pending_;
  bool stopping_ = false;
};

} // namespace exprt
