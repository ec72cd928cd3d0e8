// Turning LibTorch's out-of-memory exceptions into messages a user can act
// on ("out of memory at step 7 ...: tried to allocate 160.0 MiB").
#pragma once

#include <exception>
#include <stdexcept>
#include <string>

namespace exprt {

// When `e` reports an allocation failure (std::bad_alloc, LibTorch's CPU
// allocator or CUDA caching allocator), what it tried to allocate, as
// "tried to allocate 160.0 MiB" (or "an allocation failed"); else "".
std::string outOfMemory(const std::exception &e);

// An op's kernel failed on its operands (LibTorch refused them: a plan
// edited by hand, data of another shape than the plan was compiled for):
// "graph `G`, op N `linear` at FILE.exp:LINE:COL: LibTorch's first line".
// The session reports it as the plan's error, with the phase it was in.
class OpFailure : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// A batch whose per-row shape is not the one a graph's input was compiled
// for: the data's fault (its channels or size), reported as InputMismatch.
class InputShapeMismatch : public OpFailure {
public:
  using OpFailure::OpFailure;
};

// The advice that follows an out-of-memory message.
inline constexpr const char *kOutOfMemoryAdvice =
    "; lower `batch` (or use `accumulate`), the image size or the model's width";

} // namespace exprt
