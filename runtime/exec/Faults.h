// Turning LibTorch's out-of-memory exceptions into messages a user can act
// on ("out of memory at step 7 ...: tried to allocate 160.0 MiB").
#pragma once

#include <exception>
#include <string>

namespace exprt {

// When `e` reports an allocation failure (std::bad_alloc, LibTorch's CPU
// allocator or CUDA caching allocator), what it tried to allocate, as
// "tried to allocate 160.0 MiB" (or "an allocation failed"); else "".
std::string outOfMemory(const std::exception &e);

// The advice that follows an out-of-memory message.
inline constexpr const char *kOutOfMemoryAdvice =
    "; lower `batch` (or use `accumulate`), the image size or the model's width";

} // namespace exprt
