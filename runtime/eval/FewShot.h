// Few-shot classification on frozen embeddings (std.eval's `few_shot` with
// `finetune = false`): per seed, `shots` rows of each class train a linear
// head (cross-entropy, Adam), one more row per class (where the class has
// one to spare) is the validation set for early stopping (accuracy, ties
// broken by loss; the best epoch's head is kept), the rest is the test set; top-k test accuracy, mean and standard deviation over seeds.
#pragma once

#include <torch/types.h>

#include <map>
#include <vector>

namespace exprt {

struct FewShotOptions {
  int64_t shots = 1, seeds = 5, epochs = 100, batch = 72, patience = 10;
  double lr = 1e-3;
  std::vector<int64_t> top{1, 5, 10};
};

struct FewShotResult {
  std::map<int64_t, double> mean, std; // k -> top-k test accuracy over seeds
  int64_t classes = 0, trainRows = 0, testRows = 0; // of the first seed's split
  std::vector<int64_t> epochs;                      // per seed, epochs trained
};

// `x`: one embedding per row; `label`: any integer codes. Deterministic in
// `seed` (seed s of the repeats uses seed + s).
FewShotResult fewShotProbe(const torch::Tensor &x, const std::vector<int64_t> &label,
                           const FewShotOptions &options, uint64_t seed);

} // namespace exprt
