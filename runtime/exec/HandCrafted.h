// CellProfiler-like hand-crafted features of cell images: the classical
// baseline every learned profile is compared with, and the check that the
// simulated screen's ground truth is visible in its pixels. Per channel:
// intensity (mean, std, 10th/50th/90th percentiles), texture (mean gradient
// magnitude, mean |Laplacian|), foreground fraction; per pair of adjacent
// channels: correlation (colocalisation); on the first (nuclear) channel,
// objects by connected components of the foreground: count, mean and std
// area, mean elongation (from second moments), mean intensity.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

namespace exprt {

// [N, C, H, W] float images -> [N, F] float32 features; `names` (optional)
// receives the F feature names.
torch::Tensor handCraftedFeatures(const torch::Tensor &images,
                                  std::vector<std::string> *names = nullptr);

} // namespace exprt
