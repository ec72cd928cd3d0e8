#include "data/Prefetch.h"

namespace exprt {

BatchPrefetcher::BatchPrefetcher(int workers, int depth) : depth_(std::max(1, depth)) {
  for (int i = 0; i < workers; ++i)
    threads_.emplace_back([this] { work(); });
}

BatchPrefetcher::~BatchPrefetcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    queue_.clear(); // their futures report broken promises, never read
  }
  ready_.notify_all();
  for (std::thread &t : threads_)
    t.join();
}

void BatchPrefetcher::work() {
  for (;;) {
    std::packaged_task<Batch()> task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_)
        return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task(); // exceptions land in the future
  }
}

Batch BatchPrefetcher::take(int64_t index, int64_t last,
                            const std::function<Batch(int64_t)> &make) {
  if (threads_.empty())
    return make(index);
  // Batches before `index` that are still pending were skipped: drop them.
  while (!pending_.empty() && pending_.begin()->first < index) {
    pending_.begin()->second.wait();
    pending_.erase(pending_.begin());
  }
  for (int64_t i = index; i <= std::min(last, index + depth_ - 1); ++i) {
    if (pending_.count(i))
      continue;
    std::packaged_task<Batch()> task([make, i] { return make(i); });
    pending_[i] = task.get_future();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(std::move(task));
    }
    ready_.notify_one();
  }
  std::future<Batch> f = std::move(pending_.at(index));
  pending_.erase(index);
  return f.get();
}

} // namespace exprt
