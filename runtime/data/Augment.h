// Training-time image augmentations (data.augment): random resized crop,
// flips, 90-degree rotations and per-channel intensity jitter, drawn per
// image from a seed. A batch's seed is batchSeed (data/Random.h) of the
// training seed, the batch's position in the run and the column, so the draws
// do not depend on which thread builds the batch or on whether the run was
// resumed.
#pragma once

#include "plan/Plan.h"

#include <torch/types.h>

#include <map>
#include <string>

namespace exprt {

// Augments every image of `images` ([..., C, H, W]: leading dims are rows,
// or rows and the sites of a bag); returns a new tensor of the same shape.
torch::Tensor augmentImages(const torch::Tensor &images, const AugmentSpec &spec, uint64_t seed);

// Augments the image columns among a training batch's inputs (by binding).
void augmentBatch(std::map<std::string, torch::Tensor> &inputs, const Graph &graph,
                  const AugmentSpec &spec, int64_t trainSeed, int64_t batch);

} // namespace exprt
