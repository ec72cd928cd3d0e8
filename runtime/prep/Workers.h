// Decoding in parallel: `work` runs on `threads` threads (this one
// included) while ATen's own intra-op threads are off, so each decoding
// thread's tensor ops (resizing, conversion) stay on that thread.
#pragma once

#include <functional>

namespace exprt {

void runWorkers(int threads, const std::function<void()> &work);

} // namespace exprt
