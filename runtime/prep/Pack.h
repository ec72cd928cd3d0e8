// Packing: the images of a SiteIndex decoded once into one safetensors file
// (centre-cropped to a square, resized, uint8 — float16 when a source has 16
// bits), kept under a key of its inputs and the preprocessing, and memory-
// mapped by every later run. docs/data.md describes the layout.
#pragma once

#include "exprt/Status.h"
#include "prep/SiteIndex.h"

#include <torch/types.h>

#include <string>

namespace exprt {

struct PackOptions {
  int64_t size = 0;      // the side of the square images
  std::string cacheDir;  // where packed files live; "" packs in memory only
  int threads = 1;       // decoding threads
  bool progress = false; // a line on stderr when decoding
};

struct PackedImages {
  torch::Tensor images;    // [N, C, size, size] uint8 or float16, in [0, 255] or [0, 1]
  torch::Tensor mean, std; // [C] float32 per-channel statistics of images in [0, 1]
  std::string key;         // of the inputs (paths, sizes, times) and preprocessing
  std::string sha256;      // of the packed pixels: the data's content hash
  bool reused = false;     // read from the cache rather than decoded
};

// The packed images of `index`: from the cache when its key is there, else
// decoded (a missing, truncated or corrupt file is an error naming the file
// and the metadata row) and, with a cache directory, written there
// atomically: a failure leaves no entry behind.
Status packImages(const SiteIndex &index, const PackOptions &options, PackedImages &packed);

} // namespace exprt
