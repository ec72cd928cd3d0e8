// Stateless randomness for the data pipeline: draws that are pure functions
// of (seed, position), so batches built on any thread, or again after a
// resume, draw the same.
#pragma once

#include <cstdint>
#include <string>

namespace exprt {

// SplitMix64's finaliser: decorrelates nearby inputs (batch 7 and batch 8).
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A seed mixed with each byte of `name` (a column).
inline uint64_t splitmix64(uint64_t seed, const std::string &name) {
  for (unsigned char c : name)
    seed = splitmix64(seed ^ c);
  return seed;
}

// The seed of what training batch `batch` draws for `name` (a column's
// augmentations, its pairs): the same on any thread and after a resume.
inline uint64_t batchSeed(int64_t trainSeed, int64_t batch, const std::string &name) {
  uint64_t h = splitmix64(static_cast<uint64_t>(trainSeed) ^ 0xA5A5A5A5ull);
  return splitmix64(splitmix64(h ^ static_cast<uint64_t>(batch)), name);
}

// The seed of row `row`'s draws under `draw`: independent of the batch it is in.
inline uint64_t rowSeed(uint64_t draw, int64_t row) {
  return splitmix64(draw ^ splitmix64(static_cast<uint64_t>(row)));
}

} // namespace exprt
